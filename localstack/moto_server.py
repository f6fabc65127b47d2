"""moto_server with DynamoDB requests serialised, cheap transactions, and
the contention and faults of real AWS on demand.

moto's DynamoDB backend is not thread-safe: TransactWriteItems deep-copies
the table while other request threads change it ("dictionary changed size
during iteration", answered as HTTP 500). It also deep-copies the whole
table once per item of every transaction, so a transaction costs time in
proportion to the table's size (seconds once it holds a few hundred
leads). Real DynamoDB and LocalStack have neither problem.

This wrapper runs moto's own WSGI app, threaded as moto_server does, but
lets one DynamoDB request run at a time (SQS and the rest stay concurrent:
SQS long polls must not block DynamoDB), and replaces TransactWriteItems
with an equivalent that checks every condition first, writes only if all
hold, and keeps a copy of just the items it touches in case a write fails.
A Query of the table reads only its partition (moto's reads the whole
table for every Query).

Contention mode (LEADRELAY_MOTO_HOLD_MS, integer ms, default 0 = off; or
POST /_leadrelay/contention at runtime). Real DynamoDB holds the items of a
transaction while it runs; moto serialises everything and never shows the
collisions. With a hold of N ms, every TransactWriteItems holds each item
it touches (table + full primary key, ConditionCheck items included) for
N ms from the moment it is examined (inside the DynamoDB lock):
  - if one of its items is held by another transaction still in flight,
    it is cancelled without applying anything, answered as DynamoDB does:
    HTTP 400 TransactionCanceledException whose CancellationReasons has
    one entry per item in request order, Code "TransactionConflict"
    (Message "Transaction is ongoing for the item") for each held item and
    "None" for the others;
  - otherwise it registers its holds, runs as before (whether its
    conditions pass or fail), and its response is sent only once the N ms
    have passed; the wait happens outside the DynamoDB lock, so other
    requests proceed meanwhile.
A PutItem, UpdateItem or DeleteItem on a held item is answered HTTP 400
TransactionConflictException ("Transaction is ongoing for the item") and
changes nothing. Reads (GetItem, Query, Scan, TransactGetItems) are never
refused, and BatchWriteItem is left alone. Holds expire by time.

Fault mode for SQS, scoped by queue-name prefix so that tests sharing the
emulator do not disturb each other: a share (drawn at random per call) of
SendMessage and SendMessageBatch calls to queues whose name starts with a
prefix fails with HTTP 500 InternalError, in the protocol the client used
(JSON, X-Amz-Target: AmazonSQS.SendMessage, or query), and enqueues
nothing. Several prefixes may be active; a queue matching several takes
the longest. aws-sdk-go-v2 retries a 500 (3 attempts by default), so a
share p fails a whole SDK call with probability about p^3.

Control endpoints, on the emulator's own port (JSON in and out):
  POST   /_leadrelay/faults  {"send_message": {"queue_prefix": "t1a2b3c4-", "fail_share": 0.4}}
         sets the share for that prefix (0 clears it; the prefix must not be empty)
  DELETE /_leadrelay/faults?queue_prefix=t1a2b3c4-   clears one prefix
  GET    /_leadrelay/faults  the active prefixes and their shares
  POST   /_leadrelay/contention  {"hold_ms": 15}   sets the hold (0 = off)
  GET    /_leadrelay/contention  the current hold
  GET    /_leadrelay/stats   counters since the start, for the whole emulator:
         {"hold_ms", "transactions" (TransactWriteItems seen),
          "transaction_conflicts" (cancelled for a held item),
          "single_write_conflicts", "send_faults",
          "held_items" (held right now), "faults"}
LocalStack answers 404 on these paths: that is how tests tell the two apart.

Usage: python3 localstack/moto_server.py [-H 127.0.0.1] [-p 4566]
Environment: LEADRELAY_MOTO_HOLD_MS (the hold above), LEADRELAY_MOTO_SLOW_MS
(log DynamoDB requests that take longer than this many ms).
"""
import argparse
import gc
import heapq
import io
import itertools
import json
import os
import random
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlparse

from werkzeug.serving import run_simple
from werkzeug.wsgi import get_input_stream
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

CONFLICT_MESSAGE = "Transaction is ongoing for the item"


class Contention:
    """The hold setting, the items held by transactions in flight, and the
    counters. Holds live in a dict (item -> expiry) plus a heap ordered by
    expiry that drops them as time passes: O(items) per request."""

    def __init__(self, hold_ms: int) -> None:
        self.lock = threading.Lock()
        self.hold_ms = hold_ms
        self.until: dict = {}
        self.heap: list = []
        self.seq = itertools.count()
        self.stats = {"transactions": 0, "transaction_conflicts": 0,
                      "single_write_conflicts": 0, "send_faults": 0}

    def count(self, name: str) -> None:
        with self.lock:
            self.stats[name] += 1

    def _expire(self, now: float) -> None:
        while self.heap and self.heap[0][0] <= now:
            expiry, _, key = heapq.heappop(self.heap)
            if self.until.get(key) == expiry:
                del self.until[key]

    def held(self, keys) -> list:
        """Which of keys are held now."""
        with self.lock:
            if not self.until:
                return [False] * len(keys)
            self._expire(time.monotonic())
            return [k in self.until for k in keys]

    def transaction(self, keys):
        """Counts one transaction. Returns (held flags, None) when one of
        its items is held, or (None, expiry) after holding them all
        (expiry None when contention is off)."""
        with self.lock:
            self.stats["transactions"] += 1
            now = time.monotonic()
            if self.until:
                self._expire(now)
                flags = [k in self.until for k in keys]
                if any(flags):
                    self.stats["transaction_conflicts"] += 1
                    return flags, None
            if self.hold_ms <= 0:
                return None, None
            expiry = now + self.hold_ms / 1000
            for k in keys:
                self.until[k] = expiry
                heapq.heappush(self.heap, (expiry, next(self.seq), k))
            return None, expiry

    def snapshot(self) -> dict:
        with self.lock:
            self._expire(time.monotonic())
            return dict(self.stats, hold_ms=self.hold_ms, held_items=len(self.until))


contention = Contention(0)
# The hold expiry of the transaction this request thread just ran, read by
# the WSGI wrapper to delay the response outside the lock.
request_state = threading.local()


def item_key(backend, table, key: dict) -> tuple:
    """A hashable identity for one item: account, region, table, and the
    primary key attributes with numbers normalised (1 and 1.0 are one item)."""
    parts = []
    for name in sorted(key):
        value = key[name]
        typ, val = next(iter(value.items())) if isinstance(value, dict) and value else ("", value)
        if typ == "N":
            try:
                val = str(Decimal(val).normalize())
            except (InvalidOperation, TypeError):
                pass
        parts.append((name, typ, str(val)))
    return (backend.account_id, backend.region_name, table.name, tuple(parts))


def primary_key(table, item: dict) -> dict:
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def fast_transactions() -> None:
    import copy

    from moto.dynamodb import models

    def transact_write_items(self, transact_items):
        if len(transact_items) > 100:
            raise models.TooManyTransactionsException()
        seen = set()
        ops = []
        for item in transact_items:
            if len(item) > 1:
                raise models.TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            key = primary_key(table, op["Item"]) if op_type == "Put" else op["Key"]
            unique = item_key(self, table, key)
            if unique in seen:
                raise models.MultipleTransactionsException()
            seen.add(unique)
            ops.append((op_type, op, table_name, key, unique))

        flags, expiry = contention.transaction([unique for *_, unique in ops])
        if flags is not None:
            raise models.TransactionCanceledException(
                [("TransactionConflict", CONFLICT_MESSAGE, None) if f else (None, None, None) for f in flags])
        request_state.hold_until = expiry

        errors = []
        plan = []
        for op_type, op, table_name, key, _ in ops:
            current = self.get_item(table_name, key)
            cond = op.get("ConditionExpression")
            if cond is not None:
                expr = models.get_filter_expression(cond, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
                if not expr.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                    continue
            errors.append((None, None, None))
            plan.append((op_type, op, table_name, key, copy.deepcopy(current)))
        if any(code is not None for code, _, _ in errors):
            raise models.TransactionCanceledException(errors)
        done = []
        try:
            for op_type, op, table_name, key, before in plan:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], expression_attribute_names=names, expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
                done.append((table_name, key, before, op_type))
        except Exception:
            for table_name, key, before, op_type in reversed(done):
                if op_type == "ConditionCheck":
                    continue
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def partition_queries() -> None:
    """A Query of the table (not an index) reads its partition only.

    moto's Table.query gathers and sorts every item of the table, then
    keeps the partition's: a Query costs time in proportion to the table,
    not the partition. LeadRelay reads a lead with a Query of its partition,
    so tests that read many leads of a big table would slow down
    quadratically. This hands the query just the partition's items, sorted
    by range key as all_items would have them; the rest of moto's query
    (conditions, filters, paging) is unchanged.
    """
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        part = self.items.get(hash_key) if hash_key in self.items else {}
        items = sorted(part.values(), key=lambda x: (x.hash_key, x.range_key))
        self.all_items = lambda: items
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def guarded_single_writes() -> None:
    """PutItem, UpdateItem and DeleteItem on an item a transaction holds
    answer TransactionConflictException, as DynamoDB does."""
    import functools

    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.responses import DynamoHandler

    class TransactionConflictException(JsonRESTError):
        def __init__(self) -> None:
            super().__init__("com.amazonaws.dynamodb.v20120810#TransactionConflictException", CONFLICT_MESSAGE)

    def guard(method, item_field):
        @functools.wraps(method)
        def guarded(self):
            if contention.until:
                try:
                    backend = self.dynamodb_backend
                    table = backend.get_table(self.body["TableName"])
                    key = self.body[item_field]
                    if item_field == "Item":
                        key = primary_key(table, key)
                    unique = item_key(backend, table, key)
                except Exception:
                    unique = None  # let moto answer the malformed request as it does
                if unique is not None and contention.held([unique])[0]:
                    contention.count("single_write_conflicts")
                    raise TransactionConflictException()
            return method(self)
        return guarded

    DynamoHandler.put_item = guard(DynamoHandler.put_item, "Item")
    DynamoHandler.update_item = guard(DynamoHandler.update_item, "Key")
    DynamoHandler.delete_item = guard(DynamoHandler.delete_item, "Key")


class SendFaults:
    """Fail shares for SendMessage/SendMessageBatch by queue-name prefix."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shares: dict = {}

    def set(self, prefix: str, share: float) -> None:
        with self.lock:
            if share > 0:
                self.shares[prefix] = share
            else:
                self.shares.pop(prefix, None)

    def clear(self, prefix: str) -> bool:
        with self.lock:
            return self.shares.pop(prefix, None) is not None

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.shares)

    def fails(self, queue_name: str) -> bool:
        with self.lock:
            match = max((p for p in self.shares if queue_name.startswith(p)), key=len, default=None)
            share = self.shares[match] if match is not None else 0
        return share > 0 and random.random() < share


send_faults = SendFaults()
SQS_INTERNAL_ERROR = "We encountered an internal error. Please try again."


def buffer_body(environ) -> bytes:
    """Reads the request body and puts it back for the app behind."""
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def queue_name(url: str) -> str:
    return urlparse(url or "").path.rstrip("/").rsplit("/", 1)[-1]


def send_fault(environ, start_response):
    """An InternalError response when this request is a SendMessage(Batch)
    that a fault says must fail; None otherwise."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        if target not in ("AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch"):
            return None
        try:
            url = json.loads(buffer_body(environ) or b"{}").get("QueueUrl", "")
        except (ValueError, AttributeError):
            return None
        if not send_faults.fails(queue_name(url)):
            return None
        contention.count("send_faults")
        body = json.dumps({"__type": "com.amazonaws.sqs#InternalError", "message": SQS_INTERNAL_ERROR}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amzn-Query-Error", "InternalError;Receiver")]
    else:
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qs(buffer_body(environ).decode("utf-8", "replace")))
        if params.get("Action", [""])[0] not in ("SendMessage", "SendMessageBatch"):
            return None
        url = params.get("QueueUrl", [""])[0] or environ.get("PATH_INFO", "")
        if not send_faults.fails(queue_name(url)):
            return None
        contention.count("send_faults")
        body = ('<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'
                f'<Error><Type>Receiver</Type><Code>InternalError</Code><Message>{SQS_INTERNAL_ERROR}</Message><Detail/></Error>'
                f'<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>').encode()
        headers = [("Content-Type", "text/xml")]
    headers += [("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Length", str(len(body)))]
    start_response("500 Internal Server Error", headers)
    return [body]


def control(environ, start_response):
    """The /_leadrelay/ endpoints (see the module docstring)."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "").rstrip("/")

    def answer(status, doc):
        body = json.dumps(doc).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def request_json():
        try:
            doc = json.loads(buffer_body(environ) or b"{}")
        except ValueError as e:
            raise ValueError(f"body is not JSON: {e}")
        if not isinstance(doc, dict):
            raise ValueError("body must be a JSON object")
        return doc

    try:
        if path == "/_leadrelay/stats" and method == "GET":
            return answer("200 OK", dict(contention.snapshot(), faults=send_faults.snapshot()))
        if path == "/_leadrelay/contention":
            if method == "POST":
                hold = request_json().get("hold_ms")
                if isinstance(hold, bool) or not isinstance(hold, int) or hold < 0:
                    raise ValueError("hold_ms must be an integer >= 0")
                with contention.lock:
                    contention.hold_ms = hold
            elif method != "GET":
                return answer("405 Method Not Allowed", {"error": "GET or POST"})
            return answer("200 OK", {"hold_ms": contention.snapshot()["hold_ms"]})
        if path == "/_leadrelay/faults":
            if method == "POST":
                spec = request_json().get("send_message")
                if not isinstance(spec, dict):
                    raise ValueError('expected {"send_message": {"queue_prefix": ..., "fail_share": ...}}')
                prefix, share = spec.get("queue_prefix"), spec.get("fail_share")
                if not isinstance(prefix, str) or not prefix:
                    raise ValueError("queue_prefix must be a non-empty string")
                if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                    raise ValueError("fail_share must be a number from 0 to 1")
                send_faults.set(prefix, float(share))
            elif method == "DELETE":
                prefix = parse_qs(environ.get("QUERY_STRING", "")).get("queue_prefix", [""])[0]
                if not prefix:
                    raise ValueError("queue_prefix query parameter required")
                send_faults.clear(prefix)
            elif method != "GET":
                return answer("405 Method Not Allowed", {"error": "GET, POST or DELETE"})
            return answer("200 OK", {"faults": send_faults.snapshot()})
    except ValueError as e:
        return answer("400 Bad Request", {"error": str(e)})
    return answer("404 Not Found", {"error": f"no control endpoint {method} {path}"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))

    hold = os.environ.get("LEADRELAY_MOTO_HOLD_MS", "").strip() or "0"
    try:
        contention.hold_ms = int(hold)
        if contention.hold_ms < 0:
            raise ValueError
    except ValueError:
        parser.error(f"LEADRELAY_MOTO_HOLD_MS={hold!r}: want an integer number of milliseconds >= 0")

    # moto keeps every stream record and item as Python objects: the
    # default thresholds make the cyclic collector walk them all every few
    # thousand allocations, pausing every request for longer as the tables
    # grow. Collect rarely instead (moto's objects rarely form cycles).
    gc.freeze()
    gc.set_threshold(200_000, 50, 1_000)
    fast_transactions()
    partition_queries()
    guarded_single_writes()
    inner = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    slow = float(os.environ.get("LEADRELAY_MOTO_SLOW_MS", "0")) / 1000

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_leadrelay/"):
            return control(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):
            request_state.hold_until = None
            with lock:
                t0 = time.monotonic()
                out = list(inner(environ, start_response))
                took = time.monotonic() - t0
                if slow and took > slow:
                    print(f"slow {target} {took * 1000:.0f} ms", flush=True)
            # A transaction that holds its items answers once the hold ends;
            # werkzeug sends nothing before the app returns.
            until, request_state.hold_until = request_state.hold_until, None
            if until is not None:
                wait = until - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            return out
        if send_faults.shares:
            failed = send_fault(environ, start_response)
            if failed is not None:
                return failed
        return inner(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
