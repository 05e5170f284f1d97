-- wrk script: browser-like visitors walking journeys through the shop (bench/web.py runs it).
--
--   wrk -t16 -c16 -d10s -s bench/journeys.lua http://127.0.0.1:PORT -- visitors.lua
--
-- One wrk thread is one connection is one visitor at a time (wrk -t N -c N), who keeps the
-- cookies the shop sets, follows redirects and posts the forms of the pages it got (their CSRF
-- token, the checkout's confirmation, address and delivery). Each journey picks a kind of visitor
-- by the mix below:
--   70% browsing: a new visitor, no cookie; the CSRF cookie comes with the first product page
--   20% browsing with a cart: adds a product, looks at the cart, browses on, removes it again
--    8% signed in: browses and opens the order history
--    2% checking out: adds a product, opens the checkout, places the order, sees the order page
-- Visitors with a cart or a login are prepared by bench/web.py through the same pages (one per
-- thread: a session is one browser's), in the file named after `--`.
--
-- wrk hands a script only the last Set-Cookie header of a response. The shop sets the
-- read-your-writes cookie last (its middleware is outermost), so that one is always seen, and
-- the CSRF cookie comes alone with a visitor's first page with a form; a prepared session keeps
-- its key. What is lost is the one-time messages cookie of a cart change or an order: the next
-- page shows no message.

local MIX = { { "browse", 70 }, { "cart", 20 }, { "signed_in", 8 }, { "checkout", 2 } }

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local data, id, jar, steps, step, token, confirmation, pending
local chosen = {}  -- the checkout's preselected address and delivery, as "Place order" sends them
counts = nil  -- a global: done() reads each thread's with thread:get

function init(args)
  data = dofile(args[1])
  id = wrk.thread:get("id")
  math.randomseed(id * 7919)
  counts = {}  -- "group key" -> n, flat: wrk copies no nested table between threads
  new_journey()
end

local function pick(list) return list[math.random(#list)] end

local function count(group, key) counts[group .. " " .. key] = (counts[group .. " " .. key] or 0) + 1 end

local function parse_cookies(text)
  local cookies = {}
  for name, value in text:gmatch("([^=;%s]+)=([^;]*)") do cookies[name] = value end
  return cookies
end

local function urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function get(kind, path) return { kind = kind, method = "GET", path = path } end

local function post(kind, path, fields)
  return { kind = kind, method = "POST", path = path, fields = fields }
end

local function browsing()
  local category = pick(data.categories)
  return {
    get("home", "/"),
    get("category", "/c/" .. category.slug .. "/"),
    get("category", "/c/" .. category.slug .. "/?" .. category.filter),
    get("product", "/p/" .. pick(data.products) .. "/"),
    get("product", "/p/" .. pick(data.products) .. "/"),
    get("category", "/c/" .. category.slug .. "/?sort=price"),
  }
end

local JOURNEYS = {
  browse = function()
    jar = {}
    return browsing()
  end,
  cart = function()
    jar = parse_cookies(data.carts[id])
    local category, product = pick(data.categories), pick(data.products_with_ids)
    return {
      get("category", "/c/" .. category.slug .. "/?" .. category.filter),
      get("product", "/p/" .. product.slug .. "/"),
      post("cart", "/cart/add/", { product_id = product.id, quantity = "1" }),
      get("product", "/p/" .. pick(data.products) .. "/"),
      get("category", "/c/" .. category.slug .. "/"),
      post("cart", "/cart/remove/", { product_id = product.id }),
    }
  end,
  signed_in = function()
    jar = parse_cookies(data.signed_in[id])
    local steps = browsing()
    table.insert(steps, get("orders", "/account/orders/"))
    return steps
  end,
  checkout = function()
    jar = parse_cookies(data.checkouts[id])
    local product = pick(data.stocked)
    return {
      get("product", "/p/" .. product.slug .. "/"),
      post("cart", "/cart/add/", { product_id = product.id, quantity = "1" }),
      get("checkout", "/checkout/"),
      post("checkout", "/checkout/", { confirmation = "", address = "", delivery = "" }),
    }
  end,
}

function new_journey()
  local roll, name = math.random(100), nil
  for _, entry in ipairs(MIX) do
    roll = roll - entry[2]
    if roll <= 0 then name = entry[1] break end
  end
  count("journeys", name)
  steps, step, pending = JOURNEYS[name](), 1, nil
end

function request()
  local current = pending or steps[step]
  local headers = {}
  local cookie = {}
  for name, value in pairs(jar) do table.insert(cookie, name .. "=" .. value) end
  if #cookie > 0 then headers["Cookie"] = table.concat(cookie, "; ") end
  local body = nil
  if current.method == "POST" then
    local fields = { "csrfmiddlewaretoken=" .. (token or "") }
    for name, value in pairs(current.fields) do
      if name == "confirmation" then value = confirmation or "" elseif chosen[name] then value = chosen[name] end
      table.insert(fields, name .. "=" .. urlencode(value))
    end
    body = table.concat(fields, "&")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return wrk.format(current.method, current.path, headers, body)
end

function response(status, headers, body)
  local current = pending or steps[step]
  local kind = current.kind
  count("requests", kind)
  count("statuses", tostring(status))
  local timing = headers["Server-Timing"] or ""
  if timing:find('cache;desc="1 hits', 1, true) then
    count("hits", kind)
  elseif timing:find("cache;desc=", 1, true) then
    count("misses", kind)
  end
  local set_cookie = headers["Set-Cookie"]
  if set_cookie then
    local name, value = set_cookie:match("^([^=]+)=([^;]*)")
    if name then
      if value == "" or value == '""' then jar[name] = nil else jar[name] = value end
    end
  end
  if body then
    token = body:match('name="csrfmiddlewaretoken" value="(%w+)"') or token
    confirmation = body:match('name="confirmation" value="([^"]+)"') or confirmation
    for _, name in ipairs({ "address", "delivery" }) do
      chosen[name] = body:match('name="' .. name .. '" value="([^"]+)" checked') or chosen[name]
    end
  end
  local location = headers["Location"]
  if (status == 302 or status == 303) and location then
    pending = get(kind, location)  -- a browser follows it at once
    return
  end
  pending = nil
  step = step + 1
  if step > #steps then new_journey() end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do total[key] = (total[key] or 0) + n end
  end
  for key, n in pairs(total) do io.write(string.format("count %s %d\n", key, n)) end
  io.write(string.format("p95_us %d\n", latency:percentile(95)))
end
