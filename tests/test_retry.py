"""
The one retry policy of queries and downloads (`astroquery_nirspec.transport.RetryPolicy`),
tested alone: which failures are transient, how long each wait is and where it comes
from, when it gives up and why.
"""
import email.utils
import time

import pytest
import requests
from astroquery.utils.mocks import MockResponse

from astroquery_nirspec import conf
from astroquery_nirspec.transport import GiveUp, RetryPolicy, RetryWait


def reply(retry_after=None):
    response = MockResponse(content=b"busy")
    response.headers = {} if retry_after is None else {"Retry-After": retry_after}
    return response


def test_built_from_conf_at_call_time():
    with conf.set_temp("max_retries", 7), conf.set_temp("retry_backoff", 0.25), \
            conf.set_temp("timeout", 12.0):
        policy = RetryPolicy.from_conf()
    assert (policy.max_retries, policy.backoff, policy.timeout) == (7, 0.25, 12.0)
    with conf.set_temp("max_retries", -2), conf.set_temp("retry_backoff", -1.0):
        assert (RetryPolicy.from_conf().max_retries, RetryPolicy.from_conf().backoff) == (0, 0.0)


@pytest.mark.parametrize("failure, transient", [
    (429, True), (500, True), (502, True), (503, True), (504, True),
    (200, False), (400, False), (401, False), (403, False), (404, False), (416, False),
    (requests.ConnectionError("refused"), True),
    (requests.exceptions.ChunkedEncodingError("cut"), True),
    (requests.ConnectTimeout("slow"), False),        # a ConnectionError, but the time is spent
    (requests.ReadTimeout("slow"), False),
    (requests.exceptions.InvalidURL("bad"), False),
    (ValueError("bug"), False),
])
def test_which_failures_are_transient(failure, transient):
    assert RetryPolicy().is_transient(failure) is transient


def test_backoff_doubles_and_retries_are_counted():
    policy = RetryPolicy(max_retries=4, backoff=0.5, timeout=100.0)
    waits = [policy.next_wait(n) for n in range(4)]
    assert waits == [RetryWait(s, "back-off") for s in (0.5, 1.0, 2.0, 4.0)]
    with pytest.raises(GiveUp, match="gave up after 4 retries") as info:
        policy.next_wait(4)
    assert info.value.exhausted


def test_no_retries_at_all():
    with pytest.raises(GiveUp, match="gave up after 0 retries"):
        RetryPolicy(max_retries=0).next_wait(0, reply("0"))


@pytest.mark.parametrize("header, expected", [("0", 0.0), ("2", 2.0), ("1.5", 1.5)])
def test_retry_after_seconds_wins_over_the_backoff(header, expected):
    wait = RetryPolicy(backoff=10.0, timeout=60.0).next_wait(0, reply(header))
    assert wait == RetryWait(expected, "Retry-After")


def test_retry_after_http_date():
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert RetryPolicy().next_wait(0, reply(past)) == RetryWait(0.0, "Retry-After")
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = RetryPolicy(timeout=600.0).next_wait(0, reply(soon))
    assert wait.source == "Retry-After" and 25 <= wait.seconds <= 31


def test_unparsable_retry_after_falls_back_to_the_backoff():
    assert RetryPolicy(backoff=1.0).next_wait(1, reply("soon")) == RetryWait(2.0, "back-off")


def test_retry_after_can_be_ignored():
    policy = RetryPolicy(backoff=1.0, respect_retry_after=False)
    assert policy.next_wait(0, reply("30")) == RetryWait(1.0, "back-off")


def test_a_long_retry_after_gives_up_and_names_the_server():
    with pytest.raises(GiveUp) as info:
        RetryPolicy(timeout=30.0).next_wait(0, reply("3600"))
    assert not info.value.exhausted
    assert "Retry-After of 3600.0 s" in info.value.reason and "conf.timeout (30.0 s)" in info.value.reason


def test_a_long_backoff_gives_up_and_blames_the_backoff_not_the_server():
    with pytest.raises(GiveUp) as info:
        RetryPolicy(backoff=8.0, timeout=30.0, max_retries=5).next_wait(2)     # 32 s > 30 s
    reason = info.value.reason
    assert "back-off wait of 32.0 s" in reason and "conf.retry_backoff" in reason
    assert "Retry-After" not in reason and "server" not in reason


def test_the_time_left_bounds_the_wait():
    policy = RetryPolicy(backoff=1.0, timeout=600.0)
    assert policy.next_wait(0, remaining=5.0) == RetryWait(1.0, "back-off")
    with pytest.raises(GiveUp, match=r"longer than the 0\.5 s left"):
        policy.next_wait(0, remaining=0.5)
    with pytest.raises(GiveUp, match=r"longer than the 2\.0 s left"):
        policy.next_wait(0, reply("3"), remaining=2.0)


def test_the_policy_is_an_immutable_value():
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_retries = 10
    assert policy == RetryPolicy() and hash(policy) == hash(RetryPolicy())
