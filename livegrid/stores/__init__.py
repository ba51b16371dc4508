"""Redis stores: one small class per concept, each over named Lua scripts."""
