#!/usr/bin/env python3
"""A real gRPC client library (grpcio) against the gateway, for the end-to-end tests.

Requests are given as hex-encoded protobuf bytes (no generated code needed). Prints one JSON
line with what happened. Exit code 3 when grpcio is missing (install: pip install grpcio).

  cancel ADDR AFTER_MS METHOD HEX...   start every call without a deadline, cancel all after AFTER_MS
  deadline ADDR N DEADLINE_MS METHOD HEX NEXT_METHOD NEXT_HEX
                                       prints "ready" once connected and waits for a line on
                                       stdin; then N concurrent calls with a deadline on one
                                       channel, then one more call on the same channel
"""
import json
import sys
import time

try:
    import grpc
except ImportError:
    print("grpcio is not installed: pip install grpcio", file=sys.stderr)
    sys.exit(3)


def call(channel, method):
    return channel.unary_unary(method, request_serializer=None, response_deserializer=None)


def cancel(addr, after_ms, method, hexes):
    with grpc.insecure_channel(addr) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        rpc = call(channel, method)
        futures = [rpc.future(bytes.fromhex(h)) for h in hexes]
        time.sleep(after_ms / 1000)
        cancelled = sum(1 for f in futures if f.cancel())
        print(json.dumps({"started": len(futures), "cancelled": cancelled}))


def deadline(addr, n, deadline_ms, method, hex_, next_method, next_hex):
    with grpc.insecure_channel(addr) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        rpc = call(channel, method)
        # The test may want to know when the calls start: "ready", then wait for a line.
        print("ready", flush=True)
        sys.stdin.readline()
        futures = [rpc.future(bytes.fromhex(hex_), timeout=deadline_ms / 1000) for _ in range(n)]
        codes = {}
        for f in futures:
            try:
                f.result()
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            codes[code] = codes.get(code, 0) + 1
        try:
            call(channel, next_method)(bytes.fromhex(next_hex), timeout=10)
            following = "OK"
        except grpc.RpcError as e:
            following = e.code().name
        print(json.dumps({"codes": codes, "next": following}))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "cancel":
        cancel(args[0], int(args[1]), args[2], args[3:])
    elif mode == "deadline":
        deadline(args[0], int(args[1]), int(args[2]), args[3], args[4], args[5], args[6])
    else:
        sys.exit(f"unknown mode {mode}")
