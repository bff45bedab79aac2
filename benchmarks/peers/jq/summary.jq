# Current-status counts per job: jq -n -c -f summary.jq FILE
# The current snapshot is the one with the greatest [modified_at, lifecycle rank].
def rank: {"QUEUED": 0, "STARTED": 1, "VALIDATING": 2, "VALIDATED": 3, "RUNNING": 4,
           "CANCELLATION_REQUESTED": 6, "FAILED_VALIDATION": 7, "FAILED": 7, "SUCCESS": 7,
           "CANCELLED": 7}[.] // 5;
reduce inputs as $s ({};
  [$s.modified_at, ($s.status | rank), $s.status] as $k
  | if (.[$s.id] == null) or ($k > .[$s.id]) then .[$s.id] = $k else . end)
| {by_status: ([.[] | .[2]] | group_by(.) | map({key: .[0], value: length}) | from_entries)}
