# agentgate's image: a static binary on distroless, non-root, read-only
# root filesystem friendly (state lives in the /data volume).
#
#   make image                 # docker, podman or buildah, whichever is present
#   docker run -p 8080:8080 -v agentgate-data:/data agentgate:dev
#
# The final stage is also assembled FROM scratch by the test suite
# (deploy/image_test.go) from this file's settings, and run with podman.

FROM golang:1.26-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/admission ./cmd/admission \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/admission /admission
COPY --from=build --chown=65532:65532 /out/data /data
ENV ADMISSION_DATA_DIR=/data
ENV ADMISSION_SERVER_LISTEN=0.0.0.0:8080
USER 65532:65532
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/admission"]
CMD ["serve"]
