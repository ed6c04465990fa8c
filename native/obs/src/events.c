/* Source events go to Python through a queue that one Python thread (the dispatcher) drains. C
 * never calls into Python itself: OBS calls create/update/show/hide/destroy on whatever thread it
 * likes (obs-websocket's pool threads, the destruction thread), and Python state made on a thread
 * that later exits corrupted the heap at that thread's exit. */
#include <errno.h>
#include <time.h>

#include "source_private.h"

struct pending_event {
	struct pending_event *next;
	uint64_t id;
	struct wlcap_source *src;
	int event;
	char *settings_json;
};

static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t event_cond = PTHREAD_COND_INITIALIZER;
static struct pending_event *event_head, *event_tail;
static uint64_t last_event_id, done_event_id;
/* False between script unload and the next load: nobody drains the queue then. */
static bool python_attached;

#define DESTROY_WAIT_MS 10000

/* pthread_cond_timedwait takes a CLOCK_REALTIME deadline. */
static struct timespec realtime_in(int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	uint64_t ns = (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec + (uint64_t)ms * 1000000ULL;
	t.tv_sec = (time_t)(ns / 1000000000ULL);
	t.tv_nsec = (long)(ns % 1000000000ULL);
	return t;
}

static void free_events_locked(void)
{
	while (event_head) {
		struct pending_event *e = event_head;
		event_head = e->next;
		bfree(e->settings_json);
		bfree(e);
	}
	event_tail = NULL;
	done_event_id = last_event_id;
	pthread_cond_broadcast(&event_cond);
}

bool events_post(struct wlcap_source *src, int event, obs_data_t *settings, bool wait)
{
	pthread_mutex_lock(&event_lock);
	if (!python_attached) {
		pthread_mutex_unlock(&event_lock);
		return true;
	}
	struct pending_event *e = bzalloc(sizeof(*e));
	e->id = ++last_event_id;
	e->src = src;
	e->event = event;
	e->settings_json = settings ? bstrdup(obs_data_get_json(settings)) : NULL;
	if (event_tail)
		event_tail->next = e;
	else
		event_head = e;
	event_tail = e;
	pthread_cond_broadcast(&event_cond);
	bool done = true;
	uint64_t id = e->id; /* e belongs to the dispatcher once the lock is dropped */
	if (wait) {
		struct timespec until = realtime_in(DESTROY_WAIT_MS);
		while (done_event_id < id && python_attached) {
			if (pthread_cond_timedwait(&event_cond, &event_lock, &until) == ETIMEDOUT) {
				done = done_event_id >= id || !python_attached;
				break;
			}
		}
	}
	pthread_mutex_unlock(&event_lock);
	return done;
}

void events_attach(void)
{
	pthread_mutex_lock(&event_lock);
	python_attached = true;
	pthread_mutex_unlock(&event_lock);
}

void events_detach(void)
{
	pthread_mutex_lock(&event_lock);
	python_attached = false;
	free_events_locked(); /* and wake anyone waiting for Python */
	pthread_mutex_unlock(&event_lock);
}

int wlcap_next_event(struct wlcap_event_info *out, int timeout_ms)
{
	pthread_mutex_lock(&event_lock);
	if (!event_head && timeout_ms > 0) {
		struct timespec until = realtime_in(timeout_ms);
		pthread_cond_timedwait(&event_cond, &event_lock, &until);
	}
	struct pending_event *e = event_head;
	if (e) {
		event_head = e->next;
		if (!event_head)
			event_tail = NULL;
		out->id = e->id;
		out->src = e->src;
		out->event = e->event;
		out->settings_json = e->settings_json; /* freed by wlcap_event_done */
		bfree(e);
	}
	pthread_mutex_unlock(&event_lock);
	return e != NULL;
}

void wlcap_event_done(uint64_t id, char *settings_json)
{
	bfree(settings_json);
	pthread_mutex_lock(&event_lock);
	if (id > done_event_id)
		done_event_id = id;
	pthread_cond_broadcast(&event_cond);
	pthread_mutex_unlock(&event_lock);
}
