"""Each campaign x target thread has its own reply address on the configured domain."""
from campaigns.replies.addresses import reply_address, token_from_address


def test_each_thread_gets_its_own_address_that_reads_back(app, make_campaign, make_target):
    campaign = make_campaign(targets=[make_target(slug="brand-a", name="Brand A"), make_target(slug="brand-b", name="Brand B")])
    tokens = {ct.reply_token for ct in campaign.targets}
    assert len(tokens) == 2
    for ct in campaign.targets:
        address = reply_address(ct.reply_token)
        assert address == f"reply+{ct.reply_token}@{app.config['REPLY_DOMAIN']}"
        assert token_from_address(address.upper()) == ct.reply_token
        assert token_from_address(f"<{address}>") == ct.reply_token


def test_foreign_domains_and_malformed_addresses_name_no_thread(app, make_campaign, make_target):
    token = make_campaign(targets=[make_target()]).targets[0].reply_token
    assert token_from_address(f"reply+{token}@elsewhere.example") is None
    assert token_from_address(f"reply+{token[:-1]}@{app.config['REPLY_DOMAIN']}") is None
    assert token_from_address("ceo@brand.example") is None
