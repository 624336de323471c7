FROM scratch
ENV A=aaaaaaaaaaaaaaaa
ENV A=$A$A
LABEL l=${A#*a*a*a}
RUN echo ${A/a/b}
