-- ss:wait on an operation somebody stopped: STOP_COMPLETE and STOP_FAILED end the wait, not ok,
-- with the status message; the emulator has no way to stop an operation, so a scripted server
-- answers here.
local fake = require "fake_transport"

local OP = "5f0c2f3e-9a8b-4c7d-8e6f-0a1b2c3d4e5f"

local function operation(status, message)
  return { stack_set_operation_id = OP, stack_set_id = fake.STACK_ID, stack_set_name = "rollout",
           action = "CREATE_STACK_INSTANCES", status = status, status_message = message,
           create_time = "2026-11-29T00:00:00.000Z", update_time = "2026-11-29T00:01:00.000Z" }
end

describe("ss:wait on a stopped operation", function()
  for _, final in ipairs({ "STOP_COMPLETE", "STOP_FAILED" }) do
    it("ends at " .. final .. ", not ok, after the operation was in progress", function()
      local t = fake.new()
      t:push(200, operation("OPERATION_IN_PROGRESS"))
      t:push(200, operation(final, "stopped by an operator"))
      -- the digest: the instances the stop cancelled
      t:push(200, { stack_instances = {
        { stack_set_id = fake.STACK_ID, stack_set_name = "rollout", region = "cn-north-4",
          stack_domain_id = "0a1b2c3d4e5f", status = "CANCEL_COMPLETE", status_message = "stopped",
          latest_stack_set_operation_id = OP },
        { stack_set_id = fake.STACK_ID, stack_set_name = "rollout", region = "cn-north-4",
          stack_domain_id = "9f8e7d6c5b4a", status = "OPERATION_COMPLETE", latest_stack_set_operation_id = OP } } })
      local c = fake.client(t)
      local now = 0
      local ss = c:stack_set("rollout", { stack_set_id = fake.STACK_ID })
      local res, err = ss:wait{ operation_id = OP, timeout = 600, sleep = function(s) now = now + s end,
                                clock = function() return now end }
      assert.is_nil(err)
      assert.is_false(res.ok)
      assert.equal(final, res.status)
      assert.equal(3, #t.requests)
      assert.matches("/v1/stack%-sets/rollout/operations/" .. OP:gsub("%-", "%%-") .. "/metadata", t.requests[2].url)
      assert.matches("/v1/stack%-sets/rollout/stack%-instances", t:last().url)
      assert.equal(1, #res.failures)
      assert.equal("0a1b2c3d4e5f", res.failures[1].domain_id)
      assert.equal("CANCEL_COMPLETE", res.failures[1].status)
      assert.matches(final, tostring(res), 1, true)
    end)
  end
end)
