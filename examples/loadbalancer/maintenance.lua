-- Stagecoach maintenance mode (Adobe Commerce's "maintenance page" deploys): while the environment is replaced as a
-- whole, a request that finds no usable server in the backend waits here instead of getting a 503, checking every
-- `step_ms`, at most `max_ms`. The sleep yields (core.msleep), so HAProxy keeps serving everything else meanwhile,
-- and Lua's session timeout does not count it.
--
--   http-request lua.hold_until_served <backend> <max_ms> <step_ms> if <hold switched on>
--
-- Sets txn.held_ms (how long the request waited) and, when the bound passed with still no server, txn.hold_expired
-- (the configuration then answers the maintenance page).
core.register_action("hold_until_served", { "http-req" }, function(txn, backend, max_ms, step_ms)
  local max = tonumber(max_ms) or 60000
  local step = tonumber(step_ms) or 100
  local waited = 0
  while (tonumber(txn.f:nbsrv(backend)) or 0) == 0 do
    if waited >= max then
      txn:set_var("txn.hold_expired", 1)
      break
    end
    core.msleep(step)
    waited = waited + step
  end
  if waited > 0 then txn:set_var("txn.held_ms", waited) end
end, 3)
