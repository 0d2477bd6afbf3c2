"""Print who wdp sees in a room, surviving server restarts (``wdp.client``).

python examples/print_poses.py ws://127.0.0.1:8000/ws/v1 TOKEN [--environment room_001]
    [--fps 2] [--count N]
"""

import argparse

import trio

from wdp.client import ClientError, open_client


def describe(person: dict) -> str:
    activity = person["activity"]
    return f"track {person['track_id']} {activity['type']} ({person['confidence']:.2f})"


async def main(args: argparse.Namespace) -> int:
    subscriptions = [
        {
            "event_type": "pose_data",
            "filters": {"environment_id": args.environment, "include_keypoints": False},
            "throttle": {"max_fps": args.fps},
        }
    ]
    printed = 0
    try:
        async with open_client(args.url, args.token, subscriptions) as client:
            async for message in client:
                if message["type"] != "pose_data":
                    continue
                data = message["data"]
                people = "; ".join(describe(p) for p in data["persons"]) or "nobody"
                print(f"{message['timestamp']} {data['environment_id']}: {people}", flush=True)
                printed += 1
                if printed == args.count:
                    return 0
    except ClientError as exc:
        print(f"print_poses: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--environment", default="room_001")
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=0, help="stop after N frames (0: never)")
    raise SystemExit(trio.run(main, parser.parse_args()))
