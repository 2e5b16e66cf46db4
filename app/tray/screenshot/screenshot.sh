#!/usr/bin/env bash
# Photographs the tray's open menu: Xvfb + a StatusNotifierWatcher + a tray host
# (gtk-sni-tray-standalone) + the real tray against a scripted daemon; xdotool
# clicks the icon, ImageMagick's import takes the picture. Usage:
#   screenshot.sh <demo binary> <output.png>
set -euo pipefail
demo=$1 out=$2
work=$(mktemp -d)
pids=()
cleanup() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A display nobody else uses: Xvfb picks the number itself.
Xvfb -displayfd 3 -screen 0 1024x640x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$work/display")"
export HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache" GTK_THEME=Adwaita

# Everything else lives on a private session bus.
exec 4>&-
dbus-run-session -- bash -euo pipefail -c '
	work=$1 demo=$2 out=$3
	pids=()
	trap "for p in \${pids[@]}; do kill \$p 2>/dev/null || true; done; wait 2>/dev/null || true" EXIT
	status-notifier-watcher >"$work/watcher.log" 2>&1 & pids+=($!)
	sleep 1
	gtk-sni-tray-standalone --top --end --size 36 --color "#30343a" >"$work/host.log" 2>&1 & pids+=($!)
	sleep 1
	"$demo" -dir "$work" >"$work/demo.log" 2>&1 & pids+=($!)
	# Wait for the icon, then click it (right button: the menu).
	win=""
	for _ in $(seq 50); do
		win=$(xdotool search --onlyvisible --class gtk-sni-tray 2>/dev/null | head -1 || true)
		[ -n "$win" ] && break
		sleep 0.2
	done
	[ -n "$win" ] || { echo "no tray host window"; cat "$work/host.log"; exit 1; }
	sleep 2
	eval "$(xdotool getwindowgeometry --shell "$win")"
	xdotool mousemove $((X + WIDTH - 20)) $((Y + HEIGHT / 2)) click 1
	sleep 1.5
	import -window root "$work/full.png"
	cp "$work/full.png" "$out.full.png"
' bash "$work" "$demo" "$out"
# Keep the top-right corner (the bar and the menu under it) and paint the empty
# desktop (black in Xvfb) light grey.
convert "$out.full.png" -crop 520x380+504+0 +repage -fill "#dcdfe3" -draw "color 0,379 floodfill" -strip "$out"
rm -f "$out.full.png"
echo "wrote $out"
