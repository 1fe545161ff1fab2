-- wrk script of `make bench`: POSTs one JSON-RPC body on keep-alive
-- connections and checks every response, so that a run never measures an
-- error path by accident. Configured by environment variables (set by
-- bench/run.py):
--   BENCH_BODY_FILE     the request body
--   BENCH_HEADERS_FILE  request headers, one "Name: value" per line
--   BENCH_TOKENS_FILE   optional: bearer tokens, one per line; requests rotate
--                       through them (Authorization: Bearer <token>)
--   BENCH_STATUS        the HTTP status every response must have
--   BENCH_EXPECT        a string every response body must contain
--   BENCH_REJECT        optional: a string no response body may contain
-- done() prints one line: BENCH_RESULT {json}.

local function read_file(path)
    local file = assert(io.open(path, "rb"))
    local text = file:read("*a")
    file:close()
    return text
end

local function read_lines(path)
    local lines = {}
    for line in io.lines(path) do
        if line ~= "" then
            lines[#lines + 1] = line
        end
    end
    return lines
end

wrk.method = "POST"
wrk.path = "/mcp"
wrk.body = read_file(os.getenv("BENCH_BODY_FILE"))
for _, line in ipairs(read_lines(os.getenv("BENCH_HEADERS_FILE"))) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
end

local expected_status = tonumber(os.getenv("BENCH_STATUS") or "200")
local expect = os.getenv("BENCH_EXPECT") or ""
local reject = os.getenv("BENCH_REJECT") or ""
local tokens_file = os.getenv("BENCH_TOKENS_FILE") or ""

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
end

mismatches = 0
checked = 0
sample = ""

if tokens_file ~= "" then
    -- Every request is formatted up front; request() only picks the next one.
    local requests = {}
    local next_request = 0
    function init(args)
        local headers = {}
        for name, value in pairs(wrk.headers) do
            headers[name] = value
        end
        for index, token in ipairs(read_lines(tokens_file)) do
            headers["Authorization"] = "Bearer " .. token
            requests[index] = wrk.format(nil, nil, headers, nil)
        end
    end
    function request()
        next_request = next_request % #requests + 1
        return requests[next_request]
    end
end

function response(status, headers, body)
    checked = checked + 1
    local ok = status == expected_status
        and (expect == "" or (body and body:find(expect, 1, true) ~= nil))
        and (reject == "" or not (body and body:find(reject, 1, true)))
    if not ok then
        mismatches = mismatches + 1
        if sample == "" then
            sample = tostring(status) .. " " .. string.sub(body or "", 1, 300)
        end
    end
end

local function json_string(text)
    return '"' .. text:gsub('[%c"\\]', function(c)
        return string.format("\\u%04x", c:byte())
    end) .. '"'
end

function done(summary, latency, requests)
    local total_mismatches, total_checked, first_sample = 0, 0, ""
    for _, thread in ipairs(threads) do
        total_mismatches = total_mismatches + thread:get("mismatches")
        total_checked = total_checked + thread:get("checked")
        if first_sample == "" then
            first_sample = thread:get("sample")
        end
    end
    local errors = summary.errors
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
            .. '"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
            .. '"non_2xx_3xx":%d,"checked":%d,"mismatches":%d,"sample":%s}\n',
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
        errors.connect, errors.read, errors.write, errors.timeout, errors.status,
        total_checked, total_mismatches, json_string(first_sample)))
end
