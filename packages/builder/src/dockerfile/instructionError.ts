/** A failure inside one instruction; turned into a DockerfileError with its location. */
export class InstructionError extends Error {}
