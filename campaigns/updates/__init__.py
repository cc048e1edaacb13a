"""Updates to signers: a campaigner writes, the signers who agreed receive it once."""
