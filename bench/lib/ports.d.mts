/** Types for ports.mjs (plain JavaScript so that the bench runs it without a build). */
export declare function claimPort(): { port: number; release(): void };
