"""Print every fall (and router outage) in the rooms a token may see, reconnecting
across server restarts (``wdp.client``).

    python examples/fall_alerts.py ws://127.0.0.1:8000/ws/v1 TOKEN
"""

import argparse

import trio

from wdp.client import ClientError, open_client


async def main(args: argparse.Namespace) -> int:
    subscriptions = [
        {"event_type": "activity_event", "filters": {"event_types": ["fall_detected"]}},
        {"event_type": "hardware_event"},
    ]
    try:
        async with open_client(args.url, args.token, subscriptions) as client:
            async for message in client:
                data = message["data"]
                if message["type"] == "activity_event":
                    state = "recovered" if data["details"]["recovery_detected"] else "DOWN"
                    print(
                        f"{message['timestamp']} FALL {data['environment_id']} "
                        f"fall {data['fall_id']} severity {data['severity']} {state}",
                        flush=True,
                    )
                elif message["type"] == "hardware_event":
                    print(
                        f"{message['timestamp']} {data['router_id']}: {data['event']}", flush=True
                    )
    except ClientError as exc:
        print(f"fall_alerts: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    raise SystemExit(trio.run(main, parser.parse_args()))
