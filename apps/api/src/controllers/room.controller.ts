import { Body, Controller, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiConflictResponse, ApiCookieAuth, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ROOM_NAME_PATTERN } from '@rt/protocol';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { CreateRoomDto, HistoryDto, HistoryQueryDto, RoomListDto, RoomResponseDto, toMessageDto, toRoomDto } from '../dtos/room.dto.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { SESSION_COOKIE } from '../services/auth.service.js';
import { ChatService } from '../services/chat.service.js';

@ApiTags('rooms')
@ApiCookieAuth(SESSION_COOKIE)
@ApiUnauthorizedResponse({ description: 'Not signed in' })
@UseGuards(AuthGuard)
@Controller('api/rooms')
export class RoomController {
  constructor(private readonly chat: ChatService) {}

  @Get()
  @ApiOkResponse({ type: RoomListDto })
  async list(@CurrentUser() user: UserEntity): Promise<RoomListDto> {
    return { rooms: (await this.chat.listRooms(user.id)).map(toRoomDto) };
  }

  @Post()
  @ApiCreatedResponse({ type: RoomResponseDto })
  @ApiConflictResponse({ description: 'A room with that name exists' })
  async create(@CurrentUser() user: UserEntity, @Body() body: CreateRoomDto): Promise<RoomResponseDto> {
    const room = await this.chat.createRoom(body.name, user);
    return { room: toRoomDto(await this.chat.roomSummary(user.id, room.name)) };
  }

  @Get(':room/messages')
  @ApiOkResponse({ type: HistoryDto })
  @ApiNotFoundResponse({ description: 'No such room' })
  async history(@Param('room') room: string, @Query() query: HistoryQueryDto): Promise<HistoryDto> {
    if (!ROOM_NAME_PATTERN.test(room)) throw new DomainError('room_not_found', `No room named "${room.slice(0, 64)}"`);
    const page = await this.chat.historyBefore(room, query.before, query.limit ?? 50);
    return { messages: page.messages.map(toMessageDto), hasMore: page.hasMore };
  }
}
