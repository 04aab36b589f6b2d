CREATE TABLE "slide_segmentations" (
	"workflow_id" text PRIMARY KEY NOT NULL,
	"slide" text NOT NULL,
	"identity" text,
	"model" text NOT NULL,
	"out_dir" text NOT NULL,
	"status" text NOT NULL,
	"regions" integer,
	"computed" integer,
	"nuclei" integer,
	"tissue_area_mm2" double precision,
	"timings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"summary" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "slide_segmentations_identity_idx" ON "slide_segmentations" USING btree ("identity","model");