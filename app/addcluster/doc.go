// Package addcluster adds a cluster without a terminal: from the address a
// person types in the menu's "Add cluster…", or from a ghostwire://connect
// link an admin sent. It is portable and pure except for the small interfaces
// it is given (the daemon, the server's /v1/config, a way to ask the person),
// so every rule is tested on every OS:
//
//   - a link is parsed strictly (ParseLink): only ghostwire://connect with
//     one server=https://… parameter; anything else is refused with a message
//     that says what to do;
//   - the server's own /v1/config is read first, so the person sees who they
//     are adding and nothing is saved for a typo or an unreachable host;
//   - a link never connects before the person confirmed the server by its
//     host name and its self-declared name (Prepare asks; only a "yes" gives
//     an UpRequest);
//   - a link never changes an existing profile: a server already known is
//     offered under its profile's name, a new one gets a new name
//     (ProfileName), never one that is taken.
package addcluster
