/*
 * A small persistent thread pool: `threads` = the caller plus threads-1
 * workers. Work is handed out in tasks of `grain` items from an atomic counter
 * and the caller takes part. Workers spin for a short while after a job (the
 * next node usually follows within microseconds), then sleep on a condition
 * variable so that an idle session costs no CPU. CPU affinity is never touched:
 * the host application owns that decision.
 *
 * A worker joins a job before it takes tasks; once the caller has seen every
 * task claimed it closes the job and waits only for the workers that joined.
 * A worker still waking from sleep (tens of microseconds in a VM) finds the job
 * closed and goes back to waiting: the caller never waits for a wake-up that
 * brings no work.
 *
 * parallel_for must not be called from inside a task of the same pool; if it
 * is, the nested loop runs inline on the calling thread (detected with a
 * thread-local pointer to the pool whose task the thread runs), keeping that
 * thread's index so per-thread scratch stays private. A task may use another
 * pool (a session that runs parts of a batch in sessions of its own): there
 * the calling thread is thread 0, as for any caller.
 *
 * One pool serves one caller at a time (a session is used from one thread).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

#define CNNRT_MAX_THREADS 1024
/* About 10-50 microseconds of polling before a worker goes to sleep. */
#define CNNRT_SPIN_ITERATIONS 4000

struct cnnrt_threadpool {
  int threads;
  pthread_t* workers;
  int worker_count;

  pthread_mutex_t mutex;
  pthread_cond_t wake;
  pthread_cond_t done;
  int shutdown; /* guarded by mutex */

  /* The current job; written by the caller before generation is bumped. */
  cnnrt_task_fn fn;
  void* context;
  size_t count, grain, tasks;
  atomic_size_t next_task;
  atomic_uint_fast64_t generation;
  /* Low 32 bits: workers that joined the current job; JOB_CLOSED: no more may. */
  atomic_uint_fast64_t joined;
  atomic_uint_fast64_t finished; /* joined workers done with the current job */
};

#define JOB_CLOSED ((uint_fast64_t)1 << 32)
#define JOB_JOINED_MASK (JOB_CLOSED - 1)

typedef struct worker_start {
  cnnrt_threadpool* pool;
  int thread;
} worker_start;

static _Thread_local const cnnrt_threadpool* tls_pool; /* the pool whose task this thread runs */
static _Thread_local int tls_thread_index;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

static void run_tasks(cnnrt_threadpool* pool, int thread) {
  for (;;) {
    size_t task = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
    if (task >= pool->tasks) break;
    size_t begin = task * pool->grain;
    size_t end = begin + pool->grain < pool->count ? begin + pool->grain : pool->count;
    pool->fn(pool->context, begin, end, thread);
  }
}

static void* worker_main(void* argument) {
  worker_start start = *(worker_start*)argument;
  free(argument);
  cnnrt_threadpool* pool = start.pool;
  tls_pool = pool;
  tls_thread_index = start.thread;
  uint_fast64_t seen = 0;
  for (;;) {
    uint_fast64_t generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
    for (int spin = 0; generation == seen && spin < CNNRT_SPIN_ITERATIONS; spin++) {
      cpu_relax();
      generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
    }
    if (generation == seen) {
      pthread_mutex_lock(&pool->mutex);
      while (!pool->shutdown &&
             (generation = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
        pthread_cond_wait(&pool->wake, &pool->mutex);
      }
      int stop = pool->shutdown;
      pthread_mutex_unlock(&pool->mutex);
      if (stop) break;
    }
    seen = generation;
    /* Join unless the caller has closed the job (all its tasks were taken). */
    uint_fast64_t state = atomic_load_explicit(&pool->joined, memory_order_acquire);
    while (!(state & JOB_CLOSED) &&
           !atomic_compare_exchange_weak_explicit(&pool->joined, &state, state + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
    }
    if (state & JOB_CLOSED) continue;
    run_tasks(pool, start.thread);
    uint_fast64_t done = atomic_fetch_add_explicit(&pool->finished, 1, memory_order_acq_rel) + 1;
    state = atomic_load_explicit(&pool->joined, memory_order_acquire);
    if ((state & JOB_CLOSED) && (state & JOB_JOINED_MASK) == done) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
  return NULL;
}

cnnrt_status cnnrt_threadpool_create(int threads, cnnrt_threadpool** pool_out) {
  *pool_out = NULL;
  if (threads < 1 || threads > CNNRT_MAX_THREADS) {
    return cnnrt_error(CNNRT_ERROR_INVALID_ARGUMENT, "thread pool: threads expected 1..%d, found %d",
                       CNNRT_MAX_THREADS, threads);
  }
  cnnrt_threadpool* pool = calloc(1, sizeof(*pool));
  if (pool == NULL) return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "thread pool: out of memory");
  pool->threads = threads;
  atomic_init(&pool->next_task, 0);
  atomic_init(&pool->generation, 0);
  atomic_init(&pool->joined, JOB_CLOSED);
  atomic_init(&pool->finished, 0);
  if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
    free(pool);
    return cnnrt_error(CNNRT_ERROR_INTERNAL, "thread pool: pthread_mutex_init failed");
  }
  if (pthread_cond_init(&pool->wake, NULL) != 0) {
    pthread_mutex_destroy(&pool->mutex);
    free(pool);
    return cnnrt_error(CNNRT_ERROR_INTERNAL, "thread pool: pthread_cond_init failed");
  }
  if (pthread_cond_init(&pool->done, NULL) != 0) {
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool);
    return cnnrt_error(CNNRT_ERROR_INTERNAL, "thread pool: pthread_cond_init failed");
  }
  if (threads > 1) {
    pool->workers = calloc((size_t)threads - 1, sizeof(pthread_t));
    if (pool->workers == NULL) {
      cnnrt_threadpool_destroy(pool);
      return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "thread pool: out of memory");
    }
    for (int i = 1; i < threads; i++) {
      worker_start* start = malloc(sizeof(*start));
      if (start == NULL) {
        cnnrt_threadpool_destroy(pool);
        return cnnrt_error(CNNRT_ERROR_OUT_OF_MEMORY, "thread pool: out of memory");
      }
      start->pool = pool;
      start->thread = i;
      if (pthread_create(&pool->workers[pool->worker_count], NULL, worker_main, start) != 0) {
        free(start);
        cnnrt_threadpool_destroy(pool);
        return cnnrt_error(CNNRT_ERROR_INTERNAL, "thread pool: could not start worker thread %d of %d", i,
                           threads - 1);
      }
      pool->worker_count++;
    }
  }
  *pool_out = pool;
  return CNNRT_OK;
}

void cnnrt_threadpool_destroy(cnnrt_threadpool* pool) {
  if (pool == NULL) return;
  pthread_mutex_lock(&pool->mutex);
  pool->shutdown = 1;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);
  for (int i = 0; i < pool->worker_count; i++) pthread_join(pool->workers[i], NULL);
  free(pool->workers);
  pthread_cond_destroy(&pool->done);
  pthread_cond_destroy(&pool->wake);
  pthread_mutex_destroy(&pool->mutex);
  free(pool);
}

int cnnrt_threadpool_threads(const cnnrt_threadpool* pool) { return pool == NULL ? 1 : pool->threads; }

void cnnrt_parallel_for(cnnrt_threadpool* pool, size_t count, size_t grain, cnnrt_task_fn fn,
                        void* context) {
  if (count == 0) return;
  if (grain == 0) grain = 1;
  size_t tasks = (count - 1) / grain + 1;
  const int nested = pool != NULL && tls_pool == pool;
  if (pool == NULL || pool->worker_count == 0 || tasks == 1 || nested) {
    int thread = nested ? tls_thread_index : 0;
    for (size_t begin = 0; begin < count; begin += grain) {
      size_t end = count - begin > grain ? begin + grain : count;
      fn(context, begin, end, thread);
    }
    return;
  }
  pool->fn = fn;
  pool->context = context;
  pool->count = count;
  pool->grain = grain;
  pool->tasks = tasks;
  atomic_store_explicit(&pool->next_task, 0, memory_order_relaxed);
  atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
  /* Opening the job (release) publishes the fields above to the workers that join it. */
  atomic_store_explicit(&pool->joined, 0, memory_order_release);
  /* Bumping the generation under the mutex publishes the job to sleeping
   * workers without a lost wake-up; spinning workers see it at once. */
  pthread_mutex_lock(&pool->mutex);
  atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);

  const cnnrt_threadpool* outer_pool = tls_pool;
  const int outer_index = tls_thread_index;
  tls_pool = pool;
  tls_thread_index = 0;
  run_tasks(pool, 0);
  tls_pool = outer_pool;
  tls_thread_index = outer_index;

  /* Every task is claimed: close the job and wait for the workers in it. */
  uint_fast64_t joined =
      atomic_fetch_or_explicit(&pool->joined, JOB_CLOSED, memory_order_acq_rel) & JOB_JOINED_MASK;
  for (int spin = 0; spin < CNNRT_SPIN_ITERATIONS; spin++) {
    if (atomic_load_explicit(&pool->finished, memory_order_acquire) == joined) return;
    cpu_relax();
  }
  pthread_mutex_lock(&pool->mutex);
  while (atomic_load_explicit(&pool->finished, memory_order_acquire) != joined) {
    pthread_cond_wait(&pool->done, &pool->mutex);
  }
  pthread_mutex_unlock(&pool->mutex);
}
