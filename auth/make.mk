# auth: sign-in (client), token verifier (server), development OpenID provider.
# Everything runs in-process on loopback: no packages, tools or root needed.

.PHONY: bench-auth

## bench-auth: token verification cost (signature, claims, authorization) per request
bench-auth:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./auth/verify

bench: bench-auth
