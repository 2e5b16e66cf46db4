// Package filewatch calls a reload function when files change. Mounted
// Kubernetes Secrets and ConfigMaps are updated by swapping a symlink in the
// mount directory, so the directories are watched, not the files; a poll
// catches what events miss (some volume types send none).
package filewatch

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Settle is how long Watch waits after an event before reloading: writers
// replace files in several steps; let them finish.
const Settle = 100 * time.Millisecond

// Watch calls reload("file change") after file-system events in the
// directories of files, and reload("poll") every poll interval. reload
// decides itself whether anything changed. It returns when ctx ends.
func Watch(ctx context.Context, files []string, poll time.Duration, log *slog.Logger, reload func(trigger string)) {
	if log == nil {
		log = slog.Default()
	}
	var events <-chan fsnotify.Event
	if w, err := fsnotify.NewWatcher(); err != nil {
		log.Warn("watching files failed; polling only", "files", files, "error", err.Error())
	} else {
		defer w.Close()
		for _, d := range dirs(files) {
			if err := w.Add(d); err != nil {
				log.Warn("watching a directory failed; polling it", "dir", d, "error", err.Error())
			}
		}
		events = w.Events
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(Settle):
			}
			drain(events)
			reload("file change")
		case <-t.C:
			reload("poll")
		}
	}
}

// drain drops events already queued: one reload covers them.
func drain(events <-chan fsnotify.Event) {
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

func dirs(files []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		d := filepath.Dir(f)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
