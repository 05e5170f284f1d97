-- wrk script: print the 95th percentile of latency, which wrk's --latency table leaves out.
done = function(summary, latency, requests)
  io.write(string.format("p95_us %d\n", latency:percentile(95)))
end
