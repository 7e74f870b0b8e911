import time

done = time.monotonic()  # the bare interpreter: its first "result" is being ready
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f'{{"import": 0, "build": 0, "call": 0, "hwm_kib": {hwm}, "result_at": {done}}}')
