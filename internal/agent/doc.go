// Package agent is the protocol between the banger daemon (the host) and
// banger-init, PID 1 in the VM (the guest), over one byte stream: a
// virtio-serial port under QEMU, vsock under Firecracker.
//
// The guest runs a Server: it answers the host's exec requests through a
// Spawner (ForkSpawner for a PID 1 that owns the wait4 loop, ExecSpawner
// elsewhere) and reports the image's main process as session 0. The host runs
// a Client: Exec, Start, Signal, Resize, AttachMain, WaitHello, Shutdown.
// Many sessions share the stream.
//
// # Frames
//
// Every frame is a 12-byte header and a payload; integers are big-endian.
//
//	offset size field
//	0      4    payload length (at most MaxPayload = 1 MiB; 32 KiB for data frames)
//	4      1    type
//	5      1    flags, 0
//	6      2    reserved, 0
//	8      4    session id (0: the main process, or the whole connection)
//
// In payloads a string is a u32 length and its bytes, a list a u32 count and
// its strings. Decoders ignore bytes past the fields they know, so a later
// revision may append fields; anything else unexpected is a protocol error.
//
//	type  name        from   session  payload
//	0x01  Hello       guest  0        version u16, uptime ns u64, kernel str, init str,
//	                                  pair count u32 + (key str, value str)...
//	0x02  HostHello   host   0        version u16
//	0x03  Error       either 0        message str; the sender hangs up after it
//	0x10  Exec        host   new id   argv list, env list, dir str, user str,
//	                                  flags u8 (bit 0: tty), rows u16, cols u16
//	0x11  Stdin       host   id or 0  bytes
//	0x12  StdinClose  host   id or 0  (empty); ignored for a tty session
//	0x13  Signal      host   id or 0  signal u32 (1-64), flags u8 (bit 0: process group)
//	0x14  Resize      host   id or 0  rows u16, cols u16
//	0x15  Shutdown    host   0        (empty)
//	0x16  ExitAck     host   0        (empty): the main exit status arrived
//	0x20  Started     guest  id       pid u32
//	0x21  StartError  guest  id       message str; ends the session
//	0x22  Stdout      guest  id or 0  bytes
//	0x23  Stderr      guest  id or 0  bytes
//	0x24  Exit        guest  id or 0  code i32 (128+signal if killed), signal u32,
//	                                  flags u8 (bit 0: core dumped); ends the session
//	0x30  Window      either id or 0  stream u8 (0 stdin, 1 stdout, 2 stderr), increment u32
//
// # Conversation
//
// The host sends HostHello first; the guest answers with Hello (it also
// sends one unprompted when it starts serving). Versions must match
// (Version). Each side ignores frames that arrive before the other's hello:
// a virtio-serial port delivers what was queued while nobody listened.
//
// An exec session: Exec with an id the host picks (never 0) → Started or
// StartError → Stdout/Stderr and Stdin in both directions → Exit, sent only
// after the process's output has been drained. Signal and Resize may come at
// any time; a session the guest no longer knows ignores them.
//
// The main session (id 0) needs no Exec: the init reports the process it
// started itself. Its output and then its Exit go to every host that greets
// the guest, the Exit again on every new connection; the host answers the
// Exit with ExitAck, and the init waits for that (MainSession.Delivered)
// before powering off. This Exit is how the host learns the VM's exit code.
// When the init gave the main process a stdin (MainProcess.Stdin) or a
// terminal (MainProcess.Resize), the host's Stdin, StdinClose and Resize
// frames for session 0 reach it; Stdin frames may come before the init has
// started the process and wait for it. Otherwise they are dropped (Stdin
// credit is still handed back).
//
// # Flow control
//
// Each data stream of each session (the main one included, its stdin per
// connection) starts with InitialWindow (256 KiB) of credit. A sender sends no more than its credit;
// the receiver hands credit back with Window frames as the bytes leave its
// queue (written to the process's stdin, or to the host's writer). Bytes past
// the window are a protocol error. So a chatty process blocks on its pipe
// instead of filling memory, and one slow session does not stall the others.
// Without an attached reader the host keeps the last MainHistory (1 MiB) of
// main output and grants at once; the guest keeps 256 KiB while no host is
// connected, dropping the oldest.
//
// Senders cut data into chunks of at most 32 KiB including the header, so a
// frame is one write to virtio-console, which moves at most 32 KiB a write.
//
// # Connections
//
// When the host goes away the guest's read returns EOF and Serve returns an
// error wrapping ErrDisconnected, killing the exec sessions' process groups;
// the init reopens the port and serves again after a pause. Client calls in
// flight when the guest goes away fail with ErrDisconnected. A malformed
// frame ends the connection with ErrProtocol, never a panic.
package agent
