-- wrk script of bench/attacks.py (one thread, -t1): POSTs one body on
-- keep-alive connections, each request with its own value of one header,
-- and tallies the responses. Configured by environment variables:
--   FLOOD_BODY_FILE     the request body
--   FLOOD_HEADERS_FILE  request headers, one "Name: value" per line
--   FLOOD_HEADER        the header that gets a new value per request
--   FLOOD_VALUES_FILE   optional: values, one per line, used first, in order
--   FLOOD_PREFIX        then FLOOD_PREFIX .. a sequence number
--   FLOOD_COUNT         after this many responses: print FLOOD_DONE and stop
--                       (attacks.py then interrupts wrk, which prints done())
--   FLOOD_MARK          a string counted in response bodies
-- done() prints one line: FLOOD_RESULT {"responses": n, "marked": n, "statuses": {...}}.

local function read_lines(path)
    local lines = {}
    for line in io.lines(path) do
        if line ~= "" then
            lines[#lines + 1] = line
        end
    end
    return lines
end

local body = assert(io.open(os.getenv("FLOOD_BODY_FILE"), "rb")):read("*a")
local headers = {}
for _, line in ipairs(read_lines(os.getenv("FLOOD_HEADERS_FILE"))) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    headers[name] = value
end
local header = os.getenv("FLOOD_HEADER")
local values = {}
local values_file = os.getenv("FLOOD_VALUES_FILE") or ""
if values_file ~= "" then
    values = read_lines(values_file)
end
local prefix = os.getenv("FLOOD_PREFIX")
local count = tonumber(os.getenv("FLOOD_COUNT"))
local mark = os.getenv("FLOOD_MARK") or ""

local thread_of_run
function setup(thread)
    thread_of_run = thread
end

sent = 0
responses = 0
marked = 0
statuses = {}

function request()
    sent = sent + 1
    headers[header] = values[sent] or (prefix .. sent)
    return wrk.format("POST", "/mcp", headers, body)
end

function response(status, _, response_body)
    responses = responses + 1
    statuses[status] = (statuses[status] or 0) + 1
    if mark ~= "" and response_body and response_body:find(mark, 1, true) then
        marked = marked + 1
    end
    if responses == count then
        io.write("FLOOD_DONE\n")
        io.flush()
        wrk.thread:stop()
    end
end

function done()
    local parts = {}
    for status, n in pairs(thread_of_run:get("statuses")) do
        parts[#parts + 1] = string.format('"%d":%d', status, n)
    end
    io.write(string.format('FLOOD_RESULT {"responses":%d,"marked":%d,"statuses":{%s}}\n',
        thread_of_run:get("responses"), thread_of_run:get("marked"), table.concat(parts, ",")))
end
