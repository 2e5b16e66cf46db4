package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// Run runs fn as the Windows service when the service manager started this
// process, and otherwise until Ctrl-C (or ctx's end).
func Run(ctx context.Context, fn Runner) error {
	if startedByServiceManager() {
		err := runService(fn)
		if !errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			return err
		}
		// services.exe started us, but not as a service: run in the console.
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fn(ctx)
}

// startedByServiceManager: svc.IsWindowsService (the parent is services.exe
// in session 0), or the parent is services.exe in another session, which
// is where Wine runs it. The service dispatcher has the last word: outside
// a service it fails with ERROR_FAILED_SERVICE_CONTROLLER_CONNECT at once,
// and Run falls back to the console.
func startedByServiceManager() bool {
	if ok, err := svc.IsWindowsService(); err == nil && ok {
		return true
	}
	name, err := parentImageName()
	return err == nil && strings.EqualFold(name, "services.exe")
}

// parentImageName is the executable name of the process that started this one.
func parentImageName() (string, error) {
	var cur windows.PROCESS_BASIC_INFORMATION
	size := uint32(unsafe.Sizeof(cur))
	if err := windows.NtQueryInformationProcess(windows.CurrentProcess(), windows.ProcessBasicInformation, unsafe.Pointer(&cur), size, &size); err != nil {
		return "", err
	}
	parent := uint32(cur.InheritedFromUniqueProcessId)
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return "", err
	}
	defer windows.CloseHandle(snap)
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if e.ProcessID == parent {
			return windows.UTF16ToString(e.ExeFile[:]), nil
		}
	}
	return "", fmt.Errorf("the parent process %d is gone", parent)
}

// handler adapts svc's requests and statuses to the portable machine.
type handler struct {
	body Runner
	err  error
}

// Power events (winuser.h PBT_*): the service hears them besides
// PowerRegisterSuspendResumeNotification in osevents, which also covers
// Modern Standby.
const (
	pbtSuspend         = 0x4
	pbtResumeSuspend   = 0x7
	pbtResumeAutomatic = 0x12
)

func (h *handler) Execute(_ []string, in <-chan svc.ChangeRequest, out chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptPreShutdown | svc.AcceptShutdown | svc.AcceptPowerEvent
	reqs := make(chan request)
	go func() {
		for c := range in {
			var r request
			switch c.Cmd {
			case svc.Stop:
				r = reqStop
			case svc.PreShutdown:
				r = reqPreShutdown
			case svc.Shutdown:
				r = reqShutdown
			case svc.Interrogate:
				r = reqInterrogate
			case svc.PowerEvent:
				switch c.EventType {
				case pbtResumeAutomatic, pbtResumeSuspend:
					r = reqResume
				case pbtSuspend:
					r = reqSuspend
				}
			}
			if r != 0 {
				reqs <- r
			}
		}
	}()
	m := &machine{body: h.body, log: slog.Default(), tick: 2 * time.Second, report: func(s status) {
		st := svc.Status{CheckPoint: s.Checkpoint, WaitHint: uint32(s.WaitHint / time.Millisecond)}
		switch s.State {
		case stateStartPending:
			st.State = svc.StartPending
		case stateRunning:
			st.State, st.Accepts = svc.Running, accepts
		case stateStopPending:
			st.State = svc.StopPending
		}
		out <- st
	}}
	code, err := m.run(reqs)
	h.err = err
	if code != 0 {
		return true, code // a service-specific exit code: the recovery actions apply
	}
	return false, 0
}

func runService(fn Runner) error {
	h := &handler{body: fn}
	if err := ensureRegistration(Name); err != nil {
		slog.Warn("the service will not be restarted after a failure", "err", err)
	}
	if err := svc.Run(Name, h); err != nil {
		return fmt.Errorf("cannot run as the %q service: %w", Name, err)
	}
	return h.err
}

// ProgramData is the machine's ProgramData folder (C:\ProgramData), from
// the known-folder API: the environment variable can differ between a
// service and an installer's custom action (it does under Wine), and the
// daemon and `daemon purge` must agree on where the state is.
func ProgramData() string {
	if p, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0); err == nil && p != "" {
		return p
	}
	return os.Getenv("ProgramData")
}

// LogDir holds the daemon's log when it runs as a service.
var LogDir = filepath.Join(ProgramData(), "ghostwire", "logs")

// LogDirs are the folders holding the daemon's logs (`ghostwire daemon purge`).
func LogDirs() []string { return []string{LogDir} }

const maxLogBytes = 8 << 20

func init() {
	logOutput = func(w io.Writer) io.Writer {
		if !startedByServiceManager() {
			return w
		}
		return openServiceLog()
	}
}

// serviceLog writes every record to the log file and warnings and errors
// to the Event Log, where Windows people look first. slog writes one
// record per Write.
type serviceLog struct {
	f  io.Writer
	el *eventlog.Log
}

func openServiceLog() io.Writer {
	l := &serviceLog{f: io.Discard}
	if err := os.MkdirAll(LogDir, 0o700); err == nil {
		p := filepath.Join(LogDir, "daemon.log")
		if fi, err := os.Stat(p); err == nil && fi.Size() > maxLogBytes {
			_ = os.Rename(p, p+".old")
		}
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			l.f = f
		}
	}
	if el, err := eventlog.Open(WindowsEventSource); err == nil {
		l.el = el
	}
	return l
}

func (l *serviceLog) Write(p []byte) (int, error) {
	n, err := l.f.Write(p)
	if l.el != nil {
		msg := strings.TrimSpace(string(p))
		switch {
		case strings.Contains(msg, "level=ERROR"):
			_ = l.el.Error(3, msg)
		case strings.Contains(msg, "level=WARN"):
			_ = l.el.Warning(2, msg)
		}
	}
	if err != nil {
		return n, err
	}
	return len(p), nil
}

// Install registers the daemon with the service manager (or updates its
// registration), creates the local ghostwire group with the installing
// user in it, and starts the service.
func Install(spec Spec) error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := register(m, Name, spec)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := eventlog.InstallAsEventCreate(WindowsEventSource, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil &&
		!strings.Contains(err.Error(), "exists") {
		slog.Warn("the Event Log source was not registered; the log file still has everything", "err", err)
	}
	if who, err := ensureGroup(); err != nil {
		slog.Warn("could not prepare the local ghostwire group; only administrators may use ghostwire until it exists", "err", err)
	} else if who != "" {
		fmt.Fprintf(os.Stderr, "%s is in the local group %q and may use ghostwire after signing out and in again; "+
			"add others with `net localgroup %s NAME /add`\n", who, Group, Group)
	}
	if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return fmt.Errorf("the service is installed but did not start: %w (see Event Viewer › Windows Logs › Application, source %q)", err, WindowsEventSource)
	}
	return waitState(s, svc.Running, 30*time.Second)
}

// Uninstall stops the service and removes its registration and Event Log
// source. The state directory (profiles, no secret) and the group stay.
func Uninstall() error {
	m, err := connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return fmt.Errorf("the %q service is not installed", Name)
	}
	defer s.Close()
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return fmt.Errorf("cannot stop the %q service: %w", Name, err)
		}
		if err := waitState(s, svc.Stopped, 60*time.Second); err != nil {
			return err
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("cannot remove the %q service: %w", Name, err)
	}
	_ = eventlog.Remove(WindowsEventSource)
	return nil
}

func connect() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return nil, errors.New("installing a service needs Administrator rights: run this from an elevated prompt")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the service manager: %w", err)
	}
	return m, nil
}

// register creates the service, or brings an existing registration to the
// values of windows_values.go, and sets its recovery actions.
func register(m *mgr.Mgr, name string, spec Spec) (*mgr.Service, error) {
	args := spec.Args
	if len(args) == 0 {
		args = WindowsArgs
	}
	cfg := mgr.Config{
		ServiceType:      windows.SERVICE_WIN32_OWN_PROCESS,
		StartType:        mgr.StartManual,
		ErrorControl:     mgr.ErrorNormal,
		DisplayName:      WindowsDisplayName,
		Description:      WindowsDescription,
		ServiceStartName: WindowsAccount,
		Dependencies:     WindowsDependencies,
	}
	if WindowsStartAutomatic {
		cfg.StartType = mgr.StartAutomatic
	}
	s, err := m.OpenService(name)
	if err == nil {
		if err := updateConfig(s, commandLine(spec.Executable, args), cfg); err != nil {
			s.Close()
			return nil, fmt.Errorf("cannot update the %q service: %w", name, err)
		}
	} else {
		s, err = m.CreateService(name, spec.Executable, cfg, args...)
		if err != nil {
			return nil, fmt.Errorf("cannot create the %q service: %w", name, err)
		}
	}
	if err := setRecovery(s, name); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// setRecovery sets the recovery actions of windows_values.go on s.
func setRecovery(s *mgr.Service, name string) error {
	actions := make([]mgr.RecoveryAction, len(WindowsRestartDelays))
	for i, d := range WindowsRestartDelays {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	if err := s.SetRecoveryActions(actions, uint32(WindowsRecoveryReset/time.Second)); err != nil {
		return fmt.Errorf("cannot set the %q service to restart after a failure: %w", name, err)
	}
	// Also when the daemon exits with an error rather than crashing. Wine
	// lacks this setting (ERROR_INVALID_LEVEL): crashes still restart.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		slog.Warn("this system cannot restart the service after an error exit, only after a crash", "err", err)
	} else if err != nil {
		return fmt.Errorf("cannot set the %q service to restart after a failure: %w", name, err)
	}
	return nil
}

// ensureRegistration completes the running service's registration. The
// MSI registers it with ServiceInstall, which has no recovery settings
// (wixl knows no ServiceConfig/util:ServiceConfig), so the service sets
// them itself at every start: a registration from any installer, or one
// an administrator changed, gets the values of windows_values.go back. It
// also quotes a program path with spaces that an installer left unquoted
// (Wine's msiexec does), which Windows would otherwise try as
// C:\Program.exe first.
func ensureRegistration(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := quoteImagePath(s, name); err != nil {
		slog.Warn("the service's program path has spaces and no quotes, and could not be fixed", "err", err)
	}
	return setRecovery(s, name)
}

// quoteImagePath rewrites an unquoted command line whose program path
// (this program) has spaces: "C:\Program Files\Ghostwire\ghostwire.exe" daemon.
func quoteImagePath(s *mgr.Service, name string) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\`+name, registry.QUERY_VALUE)
	if err != nil {
		return err
	}
	cmdline, _, err := k.GetStringValue("ImagePath")
	k.Close()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fixed, ok := quotedCommandLine(cmdline, exe)
	if !ok {
		return nil
	}
	p, err := windows.UTF16PtrFromString(fixed)
	if err != nil {
		return err
	}
	// The dependencies are given again: Wine clears them when they are
	// left out (Windows would keep them), and they are ours anyway.
	deps := dependencyList(WindowsDependencies)
	return windows.ChangeServiceConfig(s.Handle, windows.SERVICE_NO_CHANGE, windows.SERVICE_NO_CHANGE, windows.SERVICE_NO_CHANGE,
		p, nil, nil, &deps[0], nil, nil, nil)
}

// dependencyList is names as CreateService and ChangeServiceConfig take
// them: each NUL-terminated, the list ending with one more NUL.
func dependencyList(names []string) []uint16 {
	deps := make([]uint16, 0, 64)
	for _, d := range names {
		deps = append(deps, windows.StringToUTF16(d)...)
	}
	return append(deps, 0)
}

// updateConfig brings an existing registration to cfg. mgr's UpdateConfig
// also writes the SID type and delayed start, which Wine refuses; these
// two calls are all a registration of ours needs.
func updateConfig(s *mgr.Service, binPath string, cfg mgr.Config) error {
	p := func(v string) *uint16 { u, _ := windows.UTF16PtrFromString(v); return u }
	deps := dependencyList(cfg.Dependencies)
	err := windows.ChangeServiceConfig(s.Handle, cfg.ServiceType, cfg.StartType, cfg.ErrorControl, p(binPath), nil, nil,
		&deps[0], p(cfg.ServiceStartName), nil, p(cfg.DisplayName))
	if err != nil {
		return err
	}
	d := windows.SERVICE_DESCRIPTION{Description: p(cfg.Description)}
	return windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&d)))
}

// commandLine quotes the executable and arguments as CreateService does.
func commandLine(exe string, args []string) string {
	parts := []string{syscall.EscapeArg(exe)}
	for _, a := range args {
		parts = append(parts, syscall.EscapeArg(a))
	}
	return strings.Join(parts, " ")
}

func waitState(s *mgr.Service, want svc.State, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("cannot query the %q service: %w", Name, err)
		}
		if st.State == want {
			return nil
		}
		if want == svc.Running && st.State == svc.Stopped {
			return fmt.Errorf("the %q service stopped right after starting: see Event Viewer › Windows Logs › Application (source %q) or %s",
				Name, WindowsEventSource, filepath.Join(LogDir, "daemon.log"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %q service did not reach the expected state within %s", Name, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
