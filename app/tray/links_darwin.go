//go:build darwin && cgo

package tray

/*
#cgo CFLAGS: -x objective-c
#cgo LDFLAGS: -framework Cocoa
#import <Cocoa/Cocoa.h>

// ghostwireOpenURL is Go's (links_export_darwin.go).
extern void ghostwireOpenURL(char *url);

// On macOS a clicked ghostwire:// link reaches the app LaunchServices
// registered for the scheme (Info.plist's CFBundleURLTypes) as an Apple
// event, kInternetEventClass/kAEGetURL, not as an argument: the running
// menu-bar app gets it, or is started to get it. fyne.io/systray owns the
// application delegate, so the handler is registered with the Apple event
// manager directly, before the app's run loop starts (the event that
// launched the app is delivered once it runs).
@interface GWLinkHandler : NSObject
- (void)handleGetURLEvent:(NSAppleEventDescriptor *)event withReplyEvent:(NSAppleEventDescriptor *)reply;
@end

@implementation GWLinkHandler
- (void)handleGetURLEvent:(NSAppleEventDescriptor *)event withReplyEvent:(NSAppleEventDescriptor *)reply {
	NSString *url = [[event paramDescriptorForKeyword:keyDirectObject] stringValue];
	if (url != nil) {
		ghostwireOpenURL((char *)[url UTF8String]);
	}
}
@end

// The handler lives as long as the app: the event manager does not retain it.
static GWLinkHandler *gwLinkHandler;

void gwRegisterLinkHandler(void) {
	if (gwLinkHandler != nil) {
		return;
	}
	gwLinkHandler = [[GWLinkHandler alloc] init];
	[[NSAppleEventManager sharedAppleEventManager] setEventHandler:gwLinkHandler
		andSelector:@selector(handleGetURLEvent:withReplyEvent:)
		forEventClass:kInternetEventClass
		andEventID:kAEGetURL];
}
*/
import "C"

import "log/slog"

// registerLinkHandler makes the app receive ghostwire:// links; each one
// is handed to `ghostwire open-link` (openLinkCommand), which asks before
// anything is added or connected. Call it on the main thread, before
// systray.Run.
func registerLinkHandler(log *slog.Logger) {
	linkLog = log
	C.gwRegisterLinkHandler()
}
