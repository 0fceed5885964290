# Reads ../shared/peer-suites/run.sh output; fails when a suite passes fewer tests than its floor.
# floors: "suite=N ..." (make peer's PEER_FLOORS); a suite without a floor must pass every test.
BEGIN { n = split(floors, parts, " "); for (i = 1; i <= n; i++) { split(parts[i], kv, "="); floor[kv[1]] = kv[2] } }
/^== / { suite = $2; seen[suite] = 1; next }
/[0-9]+ (passed|failed)/ && / in [0-9.]+s/ && suite != "" {
  p = 0; f = 0
  for (i = 1; i <= NF; i++) {
    if ($i !~ /^[0-9]+$/) continue
    w = $(i + 1); sub(/,$/, "", w)
    if (w == "passed") p = $i
    if (w == "failed" || w == "error" || w == "errors") f += $i
  }
  passed[suite] = p; total[suite] = p + f
}
END {
  rc = 0
  for (s in seen) {
    if (!(s in passed)) { printf "peer: %s printed no test summary\n", s; rc = 1; continue }
    want = (s in floor) ? floor[s] : total[s]
    status = passed[s] >= want ? "ok" : "BELOW FLOOR"
    printf "peer: %s %d of %d passed (floor %d) %s\n", s, passed[s], total[s], want, status
    if (passed[s] < want) rc = 1
  }
  exit rc
}
