from tests.privacy.conftest import signer  # noqa: F401
