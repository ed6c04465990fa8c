#include "frame_effect.h"

#include <obs-module.h>

static const char effect_text[] =
	"uniform float4x4 ViewProj;\n"
	"uniform texture2d image;\n"
	"sampler_state def_sampler { Filter = Linear; AddressU = Clamp; AddressV = Clamp; };\n"
	"struct VertInOut { float4 pos : POSITION; float2 uv : TEXCOORD0; };\n"
	"VertInOut VSDefault(VertInOut vert_in)\n"
	"{\n"
	"	VertInOut vert_out;\n"
	"	vert_out.pos = mul(float4(vert_in.pos.xyz, 1.0), ViewProj);\n"
	"	vert_out.uv = vert_in.uv;\n"
	"	return vert_out;\n"
	"}\n"
	"float4 PSDraw(VertInOut vert_in) : TARGET { return image.Sample(def_sampler, vert_in.uv); }\n"
	"float4 PSDrawOpaque(VertInOut vert_in) : TARGET\n"
	"{\n"
	"	return float4(image.Sample(def_sampler, vert_in.uv).rgb, 1.0);\n"
	"}\n"
	"float4 PSDrawSwap(VertInOut vert_in) : TARGET { return image.Sample(def_sampler, vert_in.uv).bgra; }\n"
	"float4 PSDrawSwapOpaque(VertInOut vert_in) : TARGET\n"
	"{\n"
	"	return float4(image.Sample(def_sampler, vert_in.uv).bgr, 1.0);\n"
	"}\n"
	"technique Draw { pass { vertex_shader = VSDefault(vert_in); pixel_shader = PSDraw(vert_in); } }\n"
	"technique DrawOpaque { pass { vertex_shader = VSDefault(vert_in); pixel_shader = PSDrawOpaque(vert_in); } }\n"
	"technique DrawSwap { pass { vertex_shader = VSDefault(vert_in); pixel_shader = PSDrawSwap(vert_in); } }\n"
	"technique DrawSwapOpaque\n"
	"{\n"
	"	pass { vertex_shader = VSDefault(vert_in); pixel_shader = PSDrawSwapOpaque(vert_in); }\n"
	"}\n";

gs_effect_t *frame_effect_create(void)
{
	char *errors = NULL;
	gs_effect_t *effect = gs_effect_create(effect_text, "wlcap-frame", &errors);
	if (!effect)
		blog(LOG_ERROR, "[wlcap] cannot build the frame effect: %s", errors ? errors : "no reason given");
	bfree(errors);
	return effect;
}

const char *frame_effect_technique(bool swap_red_blue, bool opaque)
{
	if (swap_red_blue)
		return opaque ? "DrawSwapOpaque" : "DrawSwap";
	return opaque ? "DrawOpaque" : "Draw";
}
