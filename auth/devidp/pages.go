package devidp

import (
	"encoding/json"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	pathLogin   = "/login"
	pathDevice  = "/device"
	pathApprove = "/dev/approve"
	pathDeny    = "/dev/deny"
	pathPending = "/dev/pending"
	maxFormBody = 4 << 10
)

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(pathLogin, p.interceptor.HandlerFunc(p.login))
	mux.HandleFunc(pathDevice, p.device)
	mux.HandleFunc("POST "+pathApprove, p.approveAPI)
	mux.HandleFunc("POST "+pathDeny, p.denyAPI)
	mux.HandleFunc("GET "+pathPending, p.pendingAPI)
	mux.Handle("/", p.op)
	return mux
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>ghostwire development sign-in</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>ghostwire development sign-in</h1>
<p><strong>Development provider:</strong> there are no passwords here. Never expose it to a network you do not control.</p>
{{if .Error}}<p style="color: #b00">{{.Error}}</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{else}}
<form method="post" action="{{.Action}}">
{{if .AuthRequestID}}<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">{{else}}
<p><label>Code shown by the application: <input name="user_code" value="{{.UserCode}}" autofocus></label></p>{{end}}
<p>Sign in as:</p>
{{range .Users}}<p><label><input type="radio" name="user" value="{{.Username}}"> {{.Username}} ({{.Name}})</label></p>
{{end}}
<p><button type="submit">Sign in</button></p>
</form>{{end}}
</body></html>`))

type page struct {
	Action, AuthRequestID, UserCode, Error, Message string
	Users                                           []User
}

func (p *Provider) render(w http.ResponseWriter, status int, pg page) {
	for _, u := range p.users {
		pg.Users = append(pg.Users, *u)
	}
	sort.Slice(pg.Users, func(i, j int) bool { return pg.Users[i].Username < pg.Users[j].Username })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, pg)
}

// login is where the authorization endpoint sends the browser.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.FormValue("authRequestID")
	pg := page{Action: pathLogin, AuthRequestID: id}
	if id == "" {
		pg.Error = "This page is reached from an application's sign-in, not directly."
		p.render(w, http.StatusBadRequest, pg)
		return
	}
	if r.Method != http.MethodPost {
		p.render(w, http.StatusOK, pg)
		return
	}
	u, ok := p.users[strings.ToLower(strings.TrimSpace(r.PostFormValue("user")))]
	if !ok {
		pg.Error = "Pick one of the users below."
		p.render(w, http.StatusBadRequest, pg)
		return
	}
	if err := p.store.completeLogin(id, u); err != nil {
		pg.Error = err.Error()
		p.render(w, http.StatusBadRequest, pg)
		return
	}
	p.log.Info("browser sign-in", "user", u.Username)
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusFound)
}

// device is the verification_uri of device authorization.
func (p *Provider) device(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	pg := page{Action: pathDevice, UserCode: r.FormValue("user_code")}
	if r.Method != http.MethodPost {
		p.render(w, http.StatusOK, pg)
		return
	}
	if err := p.Approve(pg.UserCode, r.PostFormValue("user")); err != nil {
		pg.Error = err.Error()
		p.render(w, http.StatusBadRequest, pg)
		return
	}
	pg.Message = "Signed in. You can close this window and go back to the application."
	p.render(w, http.StatusOK, pg)
}

type decision struct {
	UserCode string `json:"user_code"`
	User     string `json:"user"`
}

func readDecision(w http.ResponseWriter, r *http.Request) (decision, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	var d decision
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return d, errors.New(`body must be JSON {"user_code": "...", "user": "..."}`)
		}
		return d, nil
	}
	if err := r.ParseForm(); err != nil {
		return d, errors.New("bad form")
	}
	return decision{UserCode: r.PostFormValue("user_code"), User: r.PostFormValue("user")}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decisionStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownUser):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownUserCode):
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// approveAPI: POST /dev/approve {"user_code","user"} → 204.
func (p *Provider) approveAPI(w http.ResponseWriter, r *http.Request) {
	d, err := readDecision(w, r)
	if err == nil {
		err = p.Approve(d.UserCode, d.User)
	}
	if err != nil {
		writeJSON(w, decisionStatus(err), map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// denyAPI: POST /dev/deny {"user_code"} → 204.
func (p *Provider) denyAPI(w http.ResponseWriter, r *http.Request) {
	d, err := readDecision(w, r)
	if err == nil {
		err = p.Deny(d.UserCode)
	}
	if err != nil {
		writeJSON(w, decisionStatus(err), map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pendingAPI: GET /dev/pending → {"user_codes": [...]}.
func (p *Provider) pendingAPI(w http.ResponseWriter, _ *http.Request) {
	codes := p.PendingUserCodes()
	if codes == nil {
		codes = []string{}
	}
	writeJSON(w, http.StatusOK, map[string][]string{"user_codes": codes})
}
