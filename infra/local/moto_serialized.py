"""moto's server, processing one request at a time.

Real DynamoDB applies a conditional write atomically per item. moto's
server is multi-threaded and its condition check and write are not: two
concurrent `UpdateItem`s with `attribute_not_exists(...)` can both succeed,
which makes an exactly-once test (three workers claiming one document) fail
for a reason production cannot have. Serialising requests restores the
per-item atomicity the connector relies on; connections are still accepted
concurrently, so keep-alive clients never block each other.

It also removes two quadratic steps of moto's SQS (`_within_retention`,
`_approximate_for_30_seconds`) and most of a receive's cost
(`_visible_messages`), so a queue of thousands of messages stays usable.

Caveat: an SQS long poll (WaitTimeSeconds > 0) would hold the lock for its
whole wait; the tests and the demo use short polls only.

Usage: python moto_serialized.py -H 127.0.0.1 -p PORT (the same flags as moto_server).
"""

import threading
import time

from moto import server
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs import models as server_sqs_models

_lock = threading.Lock()
_Dispatcher = server.DomainDispatcherApplication


class SerializedDispatcher(_Dispatcher):
    def __call__(self, environ, start_response):
        with _lock:
            # Materialise the body inside the lock: moto builds it eagerly anyway.
            return list(super().__call__(environ, start_response))


server.DomainDispatcherApplication = SerializedDispatcher


def _within_retention(self, queue_name, message):
    # moto 5.2 computes every queue attribute (each a pass over all the
    # queue's messages) to read the retention period, once per message
    # received: a receive from a queue of 10,000 messages took seconds.
    # The same rule, reading the one attribute it needs.
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return retain_until > unix_time()


server_sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _within_retention


def _approximate_for_30_seconds(name):
    # moto computes a queue's attributes (three of them a pass over every
    # message) on each message sent, only to read ContentBasedDeduplication:
    # sending 10,000 messages took most of an hour. SQS's counts are
    # approximate and lag too (AWS: up to a minute); here they are at most
    # 30 seconds old. (Each pass costs about a second per 10,000 messages.)
    exact = getattr(server_sqs_models.Queue, name).fget

    def approximate(queue):
        cache = queue.__dict__.setdefault("_approximate_counts", {})
        now = time.monotonic()
        seen = cache.get(name)
        if seen is None or now - seen[0] >= 30.0:
            seen = (now, exact(queue))
            cache[name] = seen
        return seen[1]

    return property(approximate)


def _visible_messages(queue):
    # The same filter as moto's `Queue.messages`, reading the clock once
    # instead of twice per message (a datetime each time): with thousands
    # of messages queued, most of a receive's time.
    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


server_sqs_models.Queue.messages = property(_visible_messages)


for _name in (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
):
    setattr(server_sqs_models.Queue, _name, _approximate_for_30_seconds(_name))

if __name__ == "__main__":
    server.main()
