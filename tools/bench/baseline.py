#!/usr/bin/env python3
"""baseline: the approach ExtraHop's documentation shows for pushing ticket fields back
onto detections ("Configure ticket tracking for detections"): read ticket rows from a CSV
file and call requests.patch once per detection, one after another, with no session (so
every call opens a new TLS connection) and certificate verification on, verify= passed on
each call as the documented script does (requests ignores Session.verify when
REQUESTS_CA_BUNDLE is set).

The benchmark driver (ticketsync-bench) writes the CSV and runs this script against the
fake ExtraHop API; it is the "baseline" row of the table. It prints one line:

    BASELINE rows=N ok=N errors=0 seconds=S req_per_s=R

seconds covers the PATCH loop only (not interpreter start-up or imports), which is the
more generous figure for the baseline. Exit status 0 only if every PATCH got a 2xx.

CSV columns (with a header row): detection_id,ticket_id,status,assignee,resolution.
Empty cells are sent as JSON null.
"""
import argparse
import csv
import json
import sys
import time

import requests


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", required=True, help="https://host:port of the ExtraHop API")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--ca-file", required=True, help="CA bundle to verify the API's certificate")
    ap.add_argument("--csv", required=True, help="ticket rows to push")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))

    headers = {
        "Authorization": "ExtraHop apikey=%s" % args.api_key,
        "Content-Type": "application/json",
    }
    ok = errors = 0
    start = time.monotonic()
    for row in rows:
        body = {k: (row[k] or None) for k in ("ticket_id", "status", "assignee", "resolution")}
        url = "%s/api/v1/detections/%s" % (args.host, row["detection_id"])
        try:
            r = requests.patch(url, headers=headers, data=json.dumps(body),
                               verify=args.ca_file, timeout=args.timeout)
            if 200 <= r.status_code < 300:
                ok += 1
            else:
                errors += 1
                if errors <= 5:
                    print("baseline: detection %s: HTTP %d %s" % (row["detection_id"],
                          r.status_code, r.text[:200]), file=sys.stderr)
        except requests.RequestException as e:
            errors += 1
            if errors <= 5:
                print("baseline: detection %s: %s" % (row["detection_id"], e), file=sys.stderr)
    seconds = time.monotonic() - start
    print("BASELINE rows=%d ok=%d errors=%d seconds=%.3f req_per_s=%.1f" % (
        len(rows), ok, errors, seconds, len(rows) / seconds if seconds > 0 else 0.0))
    sys.stdout.flush()
    return 0 if errors == 0 and ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
