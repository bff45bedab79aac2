# Status changes, one NDJSON row each: jq -n -c -f events.jq FILE
# Observations: distinct (modified_at, status) of snapshots and (created_at, data.status) of
# status-updated events, ordered by [time, lifecycle rank, status]; a change is a status
# differing from the previous observation's.
def rank: {"QUEUED": 0, "STARTED": 1, "VALIDATING": 2, "VALIDATED": 3, "RUNNING": 4,
           "CANCELLATION_REQUESTED": 6, "FAILED_VALIDATION": 7, "FAILED": 7, "SUCCESS": 7,
           "CANCELLED": 7}[.] // 5;
def jt: if . == "FT" then "completion" else . end;
reduce inputs as $s ({};
  ($s.status | rank) as $r
  | .[$s.id] as $j
  | .[$s.id].obs["\($s.modified_at)|\($s.status)"] = [$s.modified_at, $r, $s.status]
  | if ($j.cur == null) or ([$s.modified_at, $r] >= $j.cur[0:2])
    then .[$s.id].cur = [$s.modified_at, $r, $s.model] else . end
  | if $s.job_type == null then .
    else [$s.modified_at, $r, $s.status, ($s.job_type | jt)] as $st
    | if ($j.stated == null) or ($st > $j.stated) then .[$s.id].stated = $st else . end
    end
  | if $s.classifier_targets != null then .[$s.id].targets = true else . end
  | reduce ($s.events // [] | .[]
           | select(.name == "status-updated" and .created_at != null and (.data | type) == "object"
                    and (.data.status | type) == "string")) as $e
      (.; .[$s.id].obs["\($e.created_at)|\($e.data.status)"] = [$e.created_at, ($e.data.status | rank), $e.data.status]))
| [to_entries[]
   | .key as $id | .value as $j
   | (if $j.stated != null then $j.stated[3] elif $j.targets then "classifier" else "completion" end) as $type
   | [$j.obs[]] | sort
   | reduce .[] as $o ({prev: null, i: 0, rows: []};
       if $o[2] != .prev
       then .rows += [{key: [$o[0], $id, .i],
                       row: {job_id: $id, job_type: $type, model: $j.cur[2], from_status: .prev,
                             to_status: $o[2], at: $o[0]}}]
            | .prev = $o[2] | .i += 1
       else . end)
   | .rows[]]
| sort_by(.key)[] | .row
