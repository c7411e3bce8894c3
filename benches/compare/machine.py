"""Facts about the machine a comparison ran on, printed beside its figures:
cores, processor, memory, and the measured latency of a durable write on the
disk that holds both servers' data (what group commit and fsync cost)."""

import os
import platform
import statistics
import time


def cpu_model():
    """The processor's model name, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib():
    """Total memory in GiB, from /proc/meminfo."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def fsync_latency(directory, count=300, seconds=3.0, size=4096):
    """Times `count` rounds (at most `seconds`) of writing `size` bytes at the
    end of a file in `directory` and calling fdatasync: the cost of one
    durable commit. Returns milliseconds (median, p99) and syncs per second."""
    path = os.path.join(directory, "fsync-probe")
    block = os.urandom(size)
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        deadline = time.monotonic() + seconds
        while len(samples) < count and time.monotonic() < deadline:
            t0 = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()
    return {
        "samples": len(samples),
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
        "syncs_per_second": round(len(samples) / (sum(samples) / 1000), 1),
    }


def describe(directory):
    """Everything printed about the machine, as a dict."""
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "fsync": fsync_latency(directory),
    }
