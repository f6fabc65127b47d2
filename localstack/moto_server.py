"""moto_server with DynamoDB requests serialised and cheap transactions.

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

Usage: python3 localstack/moto_server.py [-H 127.0.0.1] [-p 4566]
"""
import argparse
import os
import threading
import time

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def fast_transactions() -> None:
    import copy

    from moto.dynamodb import models

    def transact_write_items(self, transact_items):
        if len(transact_items) > 100:
            raise models.TooManyTransactionsException()
        seen = set()
        errors = []
        plan = []
        for item in transact_items:
            if len(item) > 1:
                raise models.TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                raise models.MultipleTransactionsException()
            seen.add(unique)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))

    fast_transactions()
    inner = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    slow = float(os.environ.get("LEADRELAY_MOTO_SLOW_MS", "0")) / 1000

    def app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):
            with lock:
                t0 = time.monotonic()
                out = list(inner(environ, start_response))
                took = time.monotonic() - t0
                if slow and took > slow:
                    print(f"slow {target} {took * 1000:.0f} ms", flush=True)
                return out
        return inner(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
