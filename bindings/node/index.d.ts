// Type declarations of the bitnet Node bindings (index.js).

export declare const Status: Readonly<{
  OK: 0; INVALID_ARGUMENT: 1; IO: 2; BAD_FORMAT: 3; UNSUPPORTED: 4; OUT_OF_MEMORY: 5;
  CONTEXT_FULL: 6; ABORTED: 7; BUFFER_TOO_SMALL: 8; NOT_FOUND: 9; INTERNAL: 10;
}>;

export declare class BitnetError extends Error {
  /** The numeric bitnet_status. */
  readonly status: number;
  /** e.g. "IO", "INVALID_ARGUMENT". */
  readonly statusName: string;
  /** e.g. "BITNET_ERR_IO". */
  readonly code: string;
  /** The library's message (bitnet_last_error_message) or the binding's own. */
  readonly libraryMessage: string;
}

export declare class LibraryNotFoundError extends Error {
  readonly tried: Array<[string, string]>;
}

export type ChatMessage = { role: string; content: string } | [string, string];

export interface ModelOptions {
  useMmap?: boolean;
  lmHead?: 'auto' | 'f16' | 'q8' | 'q4' | number;
  /** Reorder the I2_S weight blocks at load for faster decode (default true). */
  repack?: boolean;
}
export interface ContextOptions {
  nCtx?: number; nThreads?: number; kvType?: 'f16' | 'f32' | number; seed?: number | bigint; nBatch?: number;
}
export interface GenerateOptions {
  maxTokens?: number; temperature?: number; topK?: number; topP?: number; minP?: number;
  repeatPenalty?: number; repeatLastN?: number; seed?: number | bigint; stop?: string | string[] | null;
  addBos?: boolean; parseSpecial?: boolean; renderSpecial?: boolean;
}
export type LogitsMode = 'last' | 'all' | 'none';

export declare class Model {
  constructor(path: string, options?: ModelOptions);
  readonly path: string;
  readonly closed: boolean;
  readonly nVocab: number;
  readonly nCtxTrain: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly sizeBytes: number | bigint;
  readonly nParams: number | bigint;
  readonly architecture: string;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly eot: number | null;
  readonly addBos: boolean;
  readonly metadata: Record<string, string>;
  isEog(token: number): boolean;
  meta(key: string): string | undefined;
  meta<T>(key: string, fallback: T): string | T;
  tokenize(text: string | Uint8Array, options?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  detokenize(ids: ArrayLike<number>, options?: { renderSpecial?: boolean }): string;
  detokenizeBytes(ids: ArrayLike<number>, options?: { renderSpecial?: boolean }): Buffer;
  tokenToPiece(token: number, options?: { renderSpecial?: boolean }): Buffer;
  context(options?: ContextOptions): Context;
  close(): void;
}

export interface PerplexityResult {
  ppl: number; pplStderr: number; nllMean: number; nChunks: number; nScored: number; nTokens: number;
}
export interface BenchResult {
  ppMean: number; ppStddev: number; ppMedian: number; ppBest: number;
  tgMean: number; tgStddev: number; tgMedian: number; tgBest: number; nThreads: number;
}

export declare class Context {
  readonly model: Model;
  readonly closed: boolean;
  readonly seed: number | bigint;
  readonly nCtx: number;
  readonly nPast: number;
  readonly nThreads: number;
  readonly nLogits: number;
  eval(ids: ArrayLike<number>, options: { logits: 'all' }): Float32Array[];
  eval(ids: ArrayLike<number>, options: { logits: 'none' }): null;
  eval(ids: ArrayLike<number>, options?: { logits?: 'last' }): Float32Array;
  evalAsync(ids: ArrayLike<number>, options: { logits: 'all' }): Promise<Float32Array[]>;
  evalAsync(ids: ArrayLike<number>, options: { logits: 'none' }): Promise<null>;
  evalAsync(ids: ArrayLike<number>, options?: { logits?: 'last' }): Promise<Float32Array>;
  generate(prompt: string | Uint8Array | ArrayLike<number>, options?: GenerateOptions): Generation;
  perplexity(text: string | Uint8Array, options?: {
    nChunk?: number; maxChunks?: number; onChunk?: ((chunk: number, runningPpl: number) => unknown) | null;
  }): PerplexityResult;
  bench(options?: { nPrompt?: number; nGen?: number; repetitions?: number; warmup?: boolean }): BenchResult;
  reset(): void;
  abort(): void;
  close(): void;
}

export declare class Generation implements AsyncIterableIterator<string> {
  readonly tokens: number[];
  readonly nPromptTokens: number;
  readonly stopReason: null | 'eog' | 'max_tokens' | 'stop';
  readonly text: string;
  [Symbol.asyncIterator](): Generation;
  next(): Promise<IteratorResult<string>>;
  return(value?: unknown): Promise<IteratorResult<string>>;
  throw(err?: unknown): Promise<IteratorResult<string>>;
  close(): Promise<IteratorResult<string>>;
}

export declare function chatFormat(messages: Iterable<ChatMessage>, addGenerationPrompt?: boolean): string;
export declare function version(): string;
export declare function versionNumber(): number;
export declare function libraryPath(): string;
export declare function loadLibrary(path: string): string;
export declare const native: { readonly fns: Record<string, any>; structs: Record<string, any>; koffi: any; PieceCallback: any };
