"""One key per client address for every per-address rule (pasar.netaddr)."""

from pasar.netaddr import client_key as address


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert address("2001:db8:1:2:aaaa::1") == address("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address("2001:db8:1:3::1") != address("2001:db8:1:2::1")
    assert address("::ffff:203.0.113.7") == address("203.0.113.7") == "203.0.113.7"
    assert address(None) == "unknown" and address("testclient") == "testclient"
