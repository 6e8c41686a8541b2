#include "ingest.h"
void *health_start(ingest_ctx *ctx) { (void)ctx; return (void *)1; }
void health_stop(void *h) { (void)h; }
