package deploy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// finalStage is the configuration of the Dockerfile's last stage.
type finalStage struct {
	env        []string
	user       string
	expose     []string
	volumes    []string
	entrypoint []string
	cmd        []string
}

// readFinalStage parses the instructions of the Dockerfile's last stage
// that configure the image (not the files it copies).
func readFinalStage(t *testing.T) finalStage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var st finalStage
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		jsonList := func() []string {
			var v []string
			if err := json.Unmarshal([]byte(rest), &v); err != nil {
				t.Fatalf("Dockerfile: %s is not in exec (JSON) form: %s", instr, rest)
			}
			return v
		}
		switch strings.ToUpper(instr) {
		case "FROM":
			st = finalStage{} // a new stage
		case "ENV":
			st.env = append(st.env, rest)
		case "USER":
			st.user = rest
		case "EXPOSE":
			st.expose = append(st.expose, rest)
		case "VOLUME":
			st.volumes = jsonList()
		case "ENTRYPOINT":
			st.entrypoint = jsonList()
		case "CMD":
			st.cmd = jsonList()
		}
	}
	if st.user == "" || st.user == "0" || strings.HasPrefix(st.user, "root") {
		t.Fatalf("the final stage runs as %q, want a non-root user", st.user)
	}
	if len(st.entrypoint) == 0 || len(st.volumes) == 0 {
		t.Fatalf("the final stage has no entrypoint or no volume: %+v", st)
	}
	return st
}

// tools returns buildah and podman, skipping (failing with CI=true) when
// they are not installed.
func tools(t *testing.T) (buildah, podman string) {
	t.Helper()
	var missing []string
	for _, name := range []string{"buildah", "podman"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		if name == "buildah" {
			buildah = p
		} else {
			podman = p
		}
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v not installed and CI=true (apt-get install buildah podman)", missing)
		}
		t.Skipf("%v not installed (apt-get install buildah podman)", missing)
	}
	return buildah, podman
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// podmanRunner runs containers; fallback holds the flags for hosts where
// podman's default runtime cannot set its default rlimits or cgroups (a
// sandboxed or nested host): runc with the host's own limits.
type podmanRunner struct {
	podman   string
	fallback []string
}

func (p *podmanRunner) run(args ...string) ([]byte, error) {
	full := append([]string{}, p.fallback...)
	full = append(full, "run")
	full = append(full, args...)
	return exec.Command(p.podman, full...).CombinedOutput()
}

// TestImage builds the static binary, assembles the Dockerfile's final
// stage FROM scratch with buildah (the binary, the CA bundle, a nonroot
// user and the /data volume, as distroless gives them) with the
// Dockerfile's own settings, and runs it with podman: `admission version`,
// then `serve` on a read-only root filesystem until /readyz is ready.
func TestImage(t *testing.T) {
	buildah, podman := tools(t)
	stage := readFinalStage(t)
	dir := t.TempDir()
	bin := buildAdmission(t, dir, "-s -w -X main.version=image-test")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader; it must be static for a scratch or distroless image")
		}
	}
	_ = f.Close()

	root := filepath.Join(dir, "root")
	for _, d := range []string{"etc/ssl/certs", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("CA bundle: %v", err)
	}
	files := map[string]string{
		"etc/ssl/certs/ca-certificates.crt": string(ca),
		"etc/passwd":                        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
		"etc/group":                         "root:x:0:\nnonroot:x:65532:\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	image := "localhost/agentgate-image-test:" + hex.EncodeToString(suffix[:])
	ctr := run(t, buildah, "from", "scratch")
	t.Cleanup(func() { _ = exec.Command(buildah, "rm", ctr).Run() })
	run(t, buildah, "copy", ctr, bin, "/admission")
	run(t, buildah, "copy", ctr, filepath.Join(root, "etc"), "/etc")
	run(t, buildah, "copy", "--chown", "65532:65532", ctr, filepath.Join(root, "data"), "/data")
	cfg := []string{"config", "--user", stage.user, "--entrypoint", mustJSON(stage.entrypoint), "--cmd", strings.Join(stage.cmd, " ")}
	for _, e := range stage.env {
		cfg = append(cfg, "--env", e)
	}
	for _, p := range stage.expose {
		cfg = append(cfg, "--port", p)
	}
	for _, v := range stage.volumes {
		cfg = append(cfg, "--volume", v)
	}
	run(t, buildah, append(cfg, ctr)...)
	run(t, buildah, "commit", "--quiet", ctr, image)
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", image).Run() })
	size := run(t, podman, "image", "inspect", image, "--format", "{{.Size}}")
	t.Logf("image %s: %s bytes (binary and CA bundle)", image, size)

	pr := &podmanRunner{podman: podman}
	out, err := pr.run("--rm", image, "version")
	if err != nil && bytes.Contains(out, []byte("OCI")) {
		t.Logf("podman's default runtime failed here (%s); using runc with the host's limits", bytes.TrimSpace(out))
		pr.fallback = []string{"--runtime", "runc"}
		out, err = pr.run("--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", image, "version")
	}
	if err != nil || strings.TrimSpace(string(out)) != "admission image-test" {
		t.Fatalf("admission version in the image: %v\n%s", err, out)
	}
	limits := []string{}
	if pr.fallback != nil {
		limits = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	}

	port := freePort(t)
	name := "agentgate-image-test-" + hex.EncodeToString(suffix[:])
	args := append([]string{"-d", "--name", name, "--read-only", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port)}, limits...)
	if out, err := pr.run(append(args, image)...); err != nil {
		t.Fatalf("podman run serve: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command(podman, append(pr.fallback, "logs", name)...).CombinedOutput()
			t.Logf("container log:\n%s", logs)
		}
		_ = exec.Command(podman, append(pr.fallback, "rm", "-f", "-v", name)...).Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/readyz", port), nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body.String())
			if resp.StatusCode == http.StatusOK {
				break
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/readyz of the container never became ready: %s", last)
		case <-time.After(250 * time.Millisecond):
		}
	}
	user := run(t, podman, append(pr.fallback, "inspect", name, "--format", "{{.Config.User}}")...)
	if user != stage.user {
		t.Fatalf("the container runs as %q, want %q", user, stage.user)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
