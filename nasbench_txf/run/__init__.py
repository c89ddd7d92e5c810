"""Running searches: cells, the cell loop on a simulated clock, executors (this process, a
local pool, Ray), the driver that writes the run store, and sweeps."""
