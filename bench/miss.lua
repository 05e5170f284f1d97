-- wrk script: every request a new query string (an ignored key), so every one misses the page cache:
-- the cost of a rendered page, page cache lookup and store included. Prints the 95th percentile too.
-- Each thread has its own number (setup): its Lua state's counter and random numbers start where
-- every other thread's do, and would ask the addresses another thread has just cached.
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
request = function()
  n = n + 1
  local path = wrk.path .. (wrk.path:find("?", 1, true) and "&" or "?") .. "_miss=" .. id .. "-" .. n
  return wrk.format("GET", path)
end
done = function(summary, latency, requests) io.write(string.format("p95_us %d\n", latency:percentile(95))) end
