package policy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long Watch waits after the last file event before
// reloading, so that a file written in several steps is read once.
const settle = 100 * time.Millisecond

// Watch reloads the policy when the files of the policy directory change,
// until ctx is done. It uses file system notifications and, as a fallback
// (network file systems, missed events, replaced directories), re-reads the
// directory every PollInterval; a change takes effect within about
// PollInterval plus the reload time. Content that was refused is not retried
// until it changes again. With the embedded policies it only waits for ctx.
func (e *Engine) Watch(ctx context.Context) {
	if e.dir == "" {
		<-ctx.Done()
		return
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := fsnotify.NewWatcher()
	if e.pollOnly && err == nil {
		_ = w.Close()
		w, err = nil, errors.New("disabled")
	}
	if err != nil {
		e.log.Warn("policy: file notifications unavailable, polling only", "dir", e.dir, "error", err)
	} else {
		defer w.Close()
		e.watchTree(w, e.dir)
		events, errs = w.Events, w.Errors
	}

	ticker := time.NewTicker(e.poll)
	defer ticker.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	check := func() { _ = e.reload(ctx, false) }
	check() // changes between Open and Watch
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && !ignored(filepath.Base(ev.Name)) {
					e.watchTree(w, ev.Name)
				}
			}
			timer.Reset(settle)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			e.log.Warn("policy: file notification error", "dir", e.dir, "error", err)
		case <-timer.C:
			check()
		case <-ticker.C:
			check()
		}
	}
}

// watchTree adds root and its non-hidden subdirectories to w.
func (e *Engine) watchTree(w *fsnotify.Watcher, root string) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != root && ignored(d.Name()) {
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			e.log.Warn("policy: cannot watch directory", "dir", p, "error", err)
		}
		return nil
	})
}
