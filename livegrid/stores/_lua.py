"""Lua fragments shared by the stores' scripts (private to ``livegrid.stores``)."""

from __future__ import annotations

__all__ = ["NOW_MS", "XADD_SEQ"]

#: ``xadd_seq(stream, seq_key, maxlen, fields)``: append ``fields`` plus a
#: per-stream ``seq`` counter, so readers detect entries lost to trimming.
XADD_SEQ = """
local function xadd_seq(stream, seq_key, maxlen, fields)
  local seq = redis.call('INCR', seq_key)
  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*'}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  args[#args + 1] = 'seq'
  args[#args + 1] = seq
  local id = redis.call(unpack(args))
  return {id, seq}
end
"""

#: ``now_ms()``: Redis server time in ms, so liveness never depends on client clocks.
NOW_MS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
