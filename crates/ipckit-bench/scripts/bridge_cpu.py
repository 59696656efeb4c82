# CPU used by a bridge pair (System V -> NATS -> System V) carrying one 64-byte
# message every GAP_MS for SECS seconds, once for each --spin value given:
#   unshare --ipc -- python3 crates/ipckit-bench/scripts/bridge_cpu.py target/release/ipckit SECS GAP_MS SPIN...
# e.g. `... target/release/ipckit 10 1 300 0`. Needs nats-server on PATH; CPU time
# from /proc/PID/stat.
import ctypes, os, subprocess, sys, time, socket, threading, tempfile, shutil
libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
BIN = sys.argv[1]; secs = float(sys.argv[2]); gap = float(sys.argv[3]) / 1000
spins = sys.argv[4:]
tick = os.sysconf('SC_CLK_TCK')
def cpu(pid):
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
class Msg(ctypes.Structure):
    _fields_ = [('mtype', ctypes.c_long), ('text', ctypes.c_char * 64)]
s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
d = tempfile.mkdtemp()
srv = subprocess.Popen(['nats-server', '-a', '127.0.0.1', '-p', str(port), '-js', '-sd', d + '/js'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.7)
try:
    for spin in spins:
        qa = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600); qb = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
        url = f'nats://127.0.0.1:{port}'; subj = f'cpu.s{spin}'
        o = subprocess.Popen([BIN, 'bridge', 'out', '--queue-id', str(qa), '--subject', subj, '--server', url, '--state', f'{d}/o{spin}', '--spin', spin], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        i = subprocess.Popen([BIN, 'bridge', 'in', '--queue-id', str(qb), '--subject', subj, '--server', url, '--state', f'{d}/i{spin}', '--spin', spin], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        got = [0]
        def rcv():
            m = Msg()
            while got[0] < n:
                if libc.msgrcv(qb, ctypes.byref(m), 64, 0, 0) >= 0: got[0] += 1
        n = int(secs / gap)
        t = threading.Thread(target=rcv); t.start()
        c0 = (cpu(o.pid), cpu(i.pid)); t0 = time.time()
        m = Msg(1, b'x' * 64); nxt = time.time()
        for k in range(n):
            libc.msgsnd(qa, ctypes.byref(m), 64, 0)
            nxt += gap
            d_ = nxt - time.time()
            if d_ > 0: time.sleep(d_)
        t.join(30)
        el = time.time() - t0
        c1 = (cpu(o.pid), cpu(i.pid))
        print(f'--spin {spin}: {n} msgs, one every {gap*1000:g} ms, {el:.1f} s: exporter {100*(c1[0]-c0[0])/el:.1f} % of a core, importer {100*(c1[1]-c0[1])/el:.1f} %, received {got[0]}')
        o.terminate(); i.terminate(); o.wait(); i.wait()
        libc.msgctl(qa, IPC_RMID, None); libc.msgctl(qb, IPC_RMID, None)
finally:
    srv.terminate(); srv.wait(); shutil.rmtree(d)
