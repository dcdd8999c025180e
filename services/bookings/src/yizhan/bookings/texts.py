"""Every text a worker or a kiosk shows: API and form messages, SMS, check-in answers and the
web form's labels. Kept in one place, keyed, so that it can move to translation catalogues.

API answers carry the English text; the web form and SMS use Chinese (the default language).
"""

from typing import Literal

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"

# Messages a user can cause: keyed by the code that errors.py and the routes use.
MESSAGES: dict[str, dict[Lang, str]] = {
    "phone_invalid": {
        "zh": "请输入 11 位中国大陆手机号，以 13–19 开头",
        "en": "a mainland China mobile number: 11 digits starting with 13-19",
    },
    "name_invalid": {"zh": "请填写姓名（最多 50 个字）", "en": "1 to 50 characters"},
    "otp_format": {"zh": "验证码是 6 位数字", "en": "the one-time code has 6 digits"},
    "otp_wrong": {
        "zh": "验证码不对，请再看一下短信",
        "en": "wrong one-time code",
    },
    "otp_expired": {
        "zh": "验证码已过期或已使用，请重新获取",
        "en": "the one-time code expired or was used; request a new one",
    },
    "otp_exhausted": {
        "zh": "验证码输错次数太多，请重新获取",
        "en": "too many wrong attempts; request a new one-time code",
    },
    "otp_rate": {
        "zh": "验证码发送太频繁，请稍后再试",
        "en": "too many one-time codes requested; try again later",
    },
    "sms_failed": {
        "zh": "短信暂时发不出去，请稍后再试",
        "en": "the SMS could not be sent; try again later",
    },
    "slot_required": {"zh": "请选择一个时段", "en": "choose a slot"},
    "target_required": {
        "zh": "请选择直播时段或议事会",
        "en": "give livestream_point_id, start and end, or forum_session_id",
    },
    "target_ambiguous": {
        "zh": "一次只能预约一项",
        "en": "give either a livestream slot or a forum session, not both",
    },
    "point_unknown": {"zh": "没有这个直播点", "en": "no such livestream point"},
    "session_unknown": {"zh": "没有这场议事会", "en": "no such forum session"},
    "station_closed": {
        "zh": "这个驿站暂不接受预约",
        "en": "this station is not taking bookings",
    },
    "slot_not_on_grid": {
        "zh": "这个时段不在开放时间内",
        "en": "not a slot of this livestream point (see its slots for that date)",
    },
    "slot_started": {"zh": "这个时段已经开始了", "en": "this slot has already started"},
    "slot_too_far": {
        "zh": "这个时段太远，暂时还不能预约",
        "en": "this slot is too far ahead to book yet",
    },
    "slot_taken": {
        "zh": "这个时段刚被别人约走了，请另选一个",
        "en": "this slot is already taken",
    },
    "registration_closed": {
        "zh": "这场议事会已截止报名",
        "en": "registration for this session has closed",
    },
    "already_booked": {
        "zh": "这个手机号已经报名了这场议事会",
        "en": "this phone already holds a booking for this session",
    },
    "quota": {
        "zh": "这个手机号的预约已达上限，请先取消或参加已有的预约",
        "en": "this phone holds too many upcoming bookings",
    },
    "idempotency_key_reused": {
        "zh": "请求重复，请刷新页面后重试",
        "en": "this Idempotency-Key was used for a different request",
    },
    "booking_not_found": {"zh": "找不到这个预约", "en": "no such booking"},
    "booking_started": {
        "zh": "预约已经开始或已签到，不能取消",
        "en": "a booking that has started or is checked in cannot be cancelled",
    },
    "station_not_found": {"zh": "没有这个驿站", "en": "no such station"},
    "station_required": {
        "zh": "请选择驿站",
        "en": "station_id is required (operators may leave it out to list all of theirs)",
    },
    "stations_unavailable": {
        "zh": "系统暂时忙，请稍后再试",
        "en": "the station directory is unavailable; try again later",
    },
    "date_invalid": {"zh": "请选择日期", "en": "a date as YYYY-MM-DD"},
    "cursor": {"zh": "翻页参数不对", "en": "not a cursor this API returned"},
}

# Answers to a kiosk scan (CONTRACT §2: checkin.result message).
CHECKIN_MESSAGES: dict[str, dict[Lang, str]] = {
    "ok": {"zh": "签到成功", "en": "Checked in"},
    "not_found": {"zh": "没有找到这个预约码", "en": "Booking code not found"},
    "waitlisted": {
        "zh": "您在候补名单上，还没有座位",
        "en": "On the waiting list; no seat yet",
    },
    "wrong_station": {"zh": "这个预约不在本驿站", "en": "This booking is for another station"},
    "too_early": {
        "zh": "还没到签到时间（开始前 15 分钟起可签到）",
        "en": "Too early: check-in opens 15 minutes before the start",
    },
    "too_late": {
        "zh": "已过签到时间（开始后 15 分钟内可签到）",
        "en": "Too late: check-in closes 15 minutes after the start",
    },
    "cancelled": {"zh": "这个预约已取消", "en": "This booking was cancelled"},
    "already_checked_in": {"zh": "已经签到过了", "en": "Already checked in"},
}

SMS_OTP = "【驿站预约】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。"
SMS_PROMOTED = "【驿站预约】您候补的议事会“{topic}”已有座位，预约码 {code}。"

# Labels of the web form (Chinese by default).
FORM: dict[str, str] = {
    "site_title": "驿站预约",
    "index_heading": "预约公益直播点",
    "index_intro": "选择驿站和日期，挑一个空闲时段，用手机号领取验证码即可预约。",
    "station_label": "驿站",
    "station_choose": "请选择驿站",
    "date_label": "日期",
    "show_slots": "查看可预约时段",
    "no_stations": "暂时没有可以预约的直播点。",
    "no_slots": "这一天没有空闲时段，请换一天。",
    "slots_legend": "时段",
    "taken": "已约满",
    "phone_label": "手机号",
    "phone_hint": "用来接收验证码，只用于这次预约",
    "name_label": "姓名或称呼",
    "send_code": "获取短信验证码",
    "confirm_heading": "输入验证码",
    "confirm_intro": "验证码已发送到 {phone}，{minutes} 分钟内有效。",
    "otp_label": "6 位验证码",
    "confirm": "确认预约",
    "resend": "重新发送验证码",
    "back": "返回重新选择",
    "dev_hint": "开发模式：验证码写在 bookings 服务的日志里，也可以打开",
    "error_summary": "请先改正下面的问题",
    "booking_heading": "预约成功",
    "booking_heading_cancelled": "预约已取消",
    "booking_heading_view": "我的预约",
    "code_label": "预约码",
    "code_hint": "到驿站后在自助机上扫码或出示这个预约码签到（开始前后 15 分钟内）。",
    "manage_hint": "收藏这个页面，可以随时查看或取消预约。",
    "station": "驿站",
    "what": "项目",
    "when": "时间",
    "status": "状态",
    "status_confirmed": "已确认",
    "status_waitlisted": "候补中",
    "status_cancelled": "已取消",
    "checked_in": "已签到",
    "cancel": "取消这个预约",
    "new_booking": "再约一个",
    "today": "今天",
    "not_found_heading": "找不到这个预约",
    "not_found_body": "链接可能不完整，请检查短信或重新打开预约页面。",
    "unavailable": "系统暂时忙，请稍后再试。",
}

# Monday first, as datetime.weekday() counts.
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def message(key: str, lang: Lang = DEFAULT_LANG) -> str:
    """The text of a message key in a language (the key itself when unknown)."""
    return MESSAGES.get(key, {}).get(lang, key)


def checkin_message(key: str) -> tuple[str, str]:
    """The (zh, en) answer shown at the kiosk for a check-in outcome."""
    texts = CHECKIN_MESSAGES[key]
    return texts["zh"], texts["en"]
