package deploy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/ghostwire/ghostwire/deploy"
	"github.com/ghostwire/ghostwire/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// Every variant, as kubectl would apply it, passes a real API server's own
// validation (server-side dry run, strict field validation): value ranges,
// immutable rules, CRD structural schemas and everything strict decoding in
// the policy test cannot see. cert-manager's kinds are left out (its CRDs are
// not installed here).
func TestHAManifestsAcceptedByTheAPIServer(t *testing.T) {
	api := kubetest.Shared(t)
	api.InstallCRDs(t)
	ctx := context.Background()
	if _, err := api.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ghostwire"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(api.Client.Discovery()))
	// The check itself works: a value strict decoding lets through is refused.
	force := true
	bad := []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad","namespace":"ghostwire"},"spec":{"ports":[{"port":70000}]}}`)
	_, err = dyn.Resource(corev1.SchemeGroupVersion.WithResource("services")).Namespace("ghostwire").Patch(ctx, "bad", types.ApplyPatchType, bad,
		metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "ghostwire-deploy-test", Force: &force, FieldValidation: "Strict"})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a Service on port 70000 was not refused: %v", err)
	}
	for _, v := range deploy.Variants {
		t.Run(v.String(), func(t *testing.T) {
			objs, err := v.Render()
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, o := range objs {
				if strings.HasPrefix(o.APIVersion, "cert-manager.io/") {
					continue
				}
				j, err := yaml.YAMLToJSON(o.YAML)
				if err != nil {
					t.Fatal(err)
				}
				u := &unstructured.Unstructured{}
				if err := json.Unmarshal(j, &u.Object); err != nil {
					t.Fatal(err)
				}
				gvk := u.GroupVersionKind()
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Fatalf("%s/%s: the API server does not know %s: %v", o.Kind, o.Name, gvk, err)
				}
				var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
				if m.Scope.Name() == "namespace" {
					ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
				}
				_, err = ri.Patch(ctx, o.Name, types.ApplyPatchType, j, metav1.PatchOptions{
					DryRun: []string{metav1.DryRunAll}, FieldManager: "ghostwire-deploy-test", Force: &force, FieldValidation: "Strict"})
				if err != nil {
					t.Errorf("%s/%s: the API server refuses it: %v", o.Kind, o.Name, err)
				}
				checked++
			}
			t.Logf("%d objects accepted", checked)
		})
	}
}
