# syntax=docker/dockerfile:1
ARG BASE=busybox:1.36
FROM ${BASE} AS build
ARG VERSION=1.0
ENV PATH=/opt/bin:$PATH GREETING="hello world"
WORKDIR /src
COPY --chmod=755 --chown=1000:1000 . .
RUN --mount=type=cache,target=/root/.cache \
    --network=none \
    echo "${GREETING:-hi}" > /out.txt
RUN <<EOF
set -e
echo heredoc > /h.txt
EOF
FROM scratch
LABEL org.example.version=$VERSION maintainer="me"
COPY --from=build /out.txt /
COPY <<-"END" /etc/motd
	welcome
	END
USER 1000:1000
EXPOSE 8080/tcp 53/udp
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["/bin/check"]
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo child
ENTRYPOINT ["/app"]
CMD ["--serve"]
