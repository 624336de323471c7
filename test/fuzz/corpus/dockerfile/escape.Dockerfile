# escape=`
FROM busybox
RUN echo a `
    b
ADD https://example.test/file.tar.gz /x/
ENV A=1 `
    B="two words"
