export { RECORD_ID_NAMESPACE, recordId, recordKey } from './ids.js';
export { createPostProcessor, type PostProcessor, type PostProcessorOptions } from './post-processor.js';
