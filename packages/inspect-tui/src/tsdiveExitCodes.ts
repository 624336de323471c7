/**
 * tsdive's exit codes: 0 success and every CI rule passes, 1 a CI rule failed (as dive),
 * 2 anything else (usage, config, an image it cannot read), so that a CI job can tell a
 * wasteful image from a broken run. Apart from TsdiveError, which brings oci-layout with its
 * base class: `tsdive --help` needs the codes and none of oci-layout (#14).
 */
export const EXIT_OK = 0;
export const EXIT_RULE_FAILED = 1;
export const EXIT_ERROR = 2;
